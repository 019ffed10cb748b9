/**
 * Server group policies as pure functions (docs/scheduling.md): which hosts a member may go to
 * and which it prefers, given where the group's other members are. Nova's
 * ServerGroupAffinityFilter / ServerGroupAntiAffinityFilter (with 2.64's `max_server_per_host`)
 * and the soft-(anti-)affinity weighers, over the same facts. The conductor feeds them the
 * group's record read at one revision and writes its reservation with a compare-and-set on that
 * revision, so two members are never placed on the same view of the group (the race Nova
 * closes only with a late check on the compute host and a reschedule).
 */
import type { GroupPolicy, GroupRules, ServerGroupRecord } from '../../protocol/schemas/groups.js';
import type { InstanceRecord } from '../../protocol/schemas/internal.js';

/** Where a group's other members are: host → how many. */
export interface GroupPlacement {
  readonly policy: GroupPolicy;
  readonly rules: GroupRules;
  readonly hosts: ReadonlyMap<string, number>;
}

/** What the conductor knows of a member: its record (undefined: gone) and the host reserved for it. */
export interface MemberFacts {
  readonly record: Pick<InstanceRecord, 'host' | 'vmState' | 'taskState'> | undefined;
  readonly reserved: string | null;
}

/**
 * The hosts a member occupies for the policy: a deleted or vanished instance, none; the host its
 * record names (the truth once there is one); and, while it is being built or moved (a task in
 * flight), the host reserved for it — a move's destination counts from its reservation on, as
 * the move holds room there. One in error or offloaded with no host and no task, none.
 */
export function occupied(m: MemberFacts): string[] {
  const r = m.record;
  if (!r || r.vmState === 'deleted') return [];
  const out = r.host !== null ? [r.host] : [];
  const busy = r.vmState === 'building' || r.taskState !== null;
  if (busy && m.reserved !== null && m.reserved !== r.host) out.push(m.reserved);
  return out;
}

/** The group's placement as `self` sees it: every other member's host, counted. */
export function placementOf(
  group: Pick<ServerGroupRecord, 'policy' | 'rules'>,
  members: ReadonlyMap<string, MemberFacts>,
  self: string,
): GroupPlacement {
  const hosts = new Map<string, number>();
  for (const [id, m] of members) {
    if (id === self) continue;
    for (const h of occupied(m)) hosts.set(h, (hosts.get(h) ?? 0) + 1);
  }
  return { policy: group.policy, rules: group.rules, hosts };
}

/** Whether the policy lets a member go to `host` (the soft policies never filter). */
export function groupAllows(g: GroupPlacement, host: string): boolean {
  switch (g.policy) {
    case 'anti-affinity':
      return (g.hosts.get(host) ?? 0) < (g.rules.maxServerPerHost ?? 1);
    case 'affinity':
      return g.hosts.size === 0 || g.hosts.has(host);
    default:
      return true;
  }
}

/**
 * The soft policies' weight of `host`, higher first: soft-affinity prefers the hosts with most
 * members, soft-anti-affinity those with fewest (Nova's ServerGroupSoftAffinityWeigher and
 * ServerGroupSoftAntiAffinityWeigher); 0 for the hard policies.
 */
export function groupWeight(g: GroupPlacement, host: string): number {
  const n = g.hosts.get(host) ?? 0;
  if (g.policy === 'soft-affinity') return n;
  if (g.policy === 'soft-anti-affinity') return -n;
  return 0;
}

/** Why a create request's policy and rules are refused (Nova 2.64), or undefined. */
export function rulesProblem(policy: GroupPolicy, rules: GroupRules | undefined): string | undefined {
  if (rules?.maxServerPerHost !== undefined && policy !== 'anti-affinity')
    return `rules are allowed only with the anti-affinity policy, not ${policy}`;
  return undefined;
}

/** The group record with `member` reserved on `host`, and members that no longer count dropped. */
export function reserve(
  group: ServerGroupRecord,
  members: ReadonlyMap<string, MemberFacts>,
  member: string,
  host: string | null,
  now: number,
): ServerGroupRecord {
  const kept: Record<string, string | null> = {};
  for (const [id, reserved] of Object.entries(group.members)) {
    const m = members.get(id);
    // A member whose record is gone (and was not merely unread) or deleted leaves the group, as in Nova.
    if (id !== member && m && (!m.record || m.record.vmState === 'deleted')) continue;
    kept[id] = reserved;
  }
  kept[member] = host;
  return { ...group, members: kept, updatedAt: Math.max(group.updatedAt, now) };
}
