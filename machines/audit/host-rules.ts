/**
 * I4, I6, I7: each compute host's own view (tracker, live actors, hypervisor guests) against
 * the instance records and placement. Rules in docs/audit.md.
 */
import type { HostStatus, TrackerClaimView } from '../../protocol/schemas/host.js';
import type { InstanceRecord, MigrationRecord, VmState } from '../../protocol/index.js';
import { destFinished, isOpen, moveHosts, movingThrough, openMovesByInstance } from './moves.js';
import { isDeleted, ownerHost, showResources, type Observation, type Violation } from './observation.js';

/** vm states in which the instance's guest exists on its host (error, building, shelved… may or may not have one). */
const HAS_GUEST: ReadonlySet<string> = new Set<VmState>([
  'active',
  'stopped',
  'paused',
  'suspended',
  'rescued',
  'resized',
]);

const TRACKER_TO_PLACEMENT = [
  ['vcpus', 'VCPU'],
  ['memoryMb', 'MEMORY_MB'],
  ['diskGb', 'DISK_GB'],
] as const;

type TrackerUsage = HostStatus['tracker']['usage'];

const showUsage = (u: TrackerUsage) => `vcpus ${u.vcpus}, memoryMb ${u.memoryMb}, diskGb ${u.diskGb}`;
const sameUsage = (a: TrackerUsage, b: TrackerUsage) =>
  a.vcpus === b.vcpus && a.memoryMb === b.memoryMb && a.diskGb === b.diskGb;

/**
 * What the claims add up to. Several claims of one instance on one host (a same-host resize)
 * count either as the largest of them per resource (the tracker's default) or summed (Nova's
 * way); both are accepted. No per-claim overhead: novactor's drivers declare none.
 */
function claimUsage(claims: readonly TrackerClaimView[], combine: 'max' | 'sum'): TrackerUsage {
  const perInstance = new Map<string, TrackerUsage>();
  for (const c of claims) {
    const cur = perInstance.get(c.instanceId) ?? { vcpus: 0, memoryMb: 0, diskGb: 0 };
    const add = (a: number, b: number) => (combine === 'max' ? Math.max(a, b) : a + b);
    perInstance.set(c.instanceId, {
      vcpus: add(cur.vcpus, c.flavor.vcpus),
      memoryMb: add(cur.memoryMb, c.flavor.memoryMb),
      diskGb: add(cur.diskGb, c.flavor.rootGb),
    });
  }
  const out = { vcpus: 0, memoryMb: 0, diskGb: 0 };
  for (const u of perInstance.values()) {
    out.vcpus += u.vcpus;
    out.memoryMb += u.memoryMb;
    out.diskGb += u.diskGb;
  }
  return out;
}

const answering = (o: Observation) => o.hosts.filter((h): h is typeof h & { status: HostStatus } => h.status !== null);

/** I4: each answering tracker's usage, claims and placement usage agree with each other and the records. */
export function checkI4(o: Observation): Violation[] {
  const out: Violation[] = [];
  const instances = new Map(o.instances.map((i) => [i.instanceId, i]));
  const migrations = new Map(o.migrations.map((m) => [m.migrationId, m]));
  const moves = openMovesByInstance(o);
  for (const { host, status } of answering(o)) {
    const t = status.tracker;
    if (t.host !== host || status.host !== host)
      out.push({
        invariant: 'I4',
        detail: `host ${host} answered for host ${status.host} (tracker ${t.host})`,
        ids: [host],
      });
    const fromClaims = claimUsage(t.claims, 'max');
    if (!sameUsage(t.usage, fromClaims) && !sameUsage(t.usage, claimUsage(t.claims, 'sum'))) {
      out.push({
        invariant: 'I4',
        detail: `tracker of ${host} reports usage ${showUsage(t.usage)} but its ${t.claims.length} claims add up to ${showUsage(fromClaims)}`,
        ids: [host],
      });
    }
    const claimed = new Set(t.claims.filter((c) => c.type === 'instance').map((c) => c.instanceId));
    const moveClaimed = new Set(t.claims.filter((c) => c.type === 'move').map((c) => c.instanceId));
    const expected = new Set(o.instances.filter((i) => i.host === host && !isDeleted(i)).map((i) => i.instanceId));
    for (const id of [...claimed].sort()) {
      if (expected.has(id)) continue;
      const i = instances.get(id);
      // During a move the record's host flips between the two trackers' own steps.
      if (i && !isDeleted(i) && movingThrough(moves, id, host)) continue;
      const why = !i ? 'has no record' : isDeleted(i) ? 'is deleted' : `is on host ${i.host ?? 'none'}`;
      out.push({
        invariant: 'I4',
        detail: `tracker of ${host} holds a claim for instance ${id}, which ${why}`,
        ids: [id, host],
      });
    }
    for (const id of [...expected].sort()) {
      if (claimed.has(id)) continue;
      // A move's source side replaces the instance's claim (the swap); its destination side stands for it until
      // finished.
      if (moveClaimed.has(id) && movingThrough(moves, id, host)) continue;
      out.push({
        invariant: 'I4',
        detail: `instance ${id} is on host ${host} but its tracker holds no claim for it`,
        ids: [id, host],
      });
    }
    for (const c of t.claims.filter((x) => x.type === 'move')) {
      const problem = moveClaimProblem(
        c,
        host,
        c.migrationId === null ? undefined : migrations.get(c.migrationId),
        instances.get(c.instanceId),
      );
      if (problem)
        out.push({
          invariant: 'I4',
          detail: `tracker of ${host} holds a move claim (migration ${c.migrationId ?? 'none'}) for instance ${c.instanceId} ${problem}`,
          ids: [c.instanceId, host],
        });
    }
    if (t.lastAuditAt === null) continue; // placement is only expected to agree once the tracker has audited
    const providers = o.providers.filter((p) => p.name === host);
    if (providers.length !== 1) {
      out.push({
        invariant: 'I4',
        detail: `tracker of ${host} has audited but there are ${providers.length} placement providers named ${host}`,
        ids: [host],
      });
      continue;
    }
    const usages = providers[0]!.usages;
    // A host with no disk inventory keeps root disks on a sharing provider: only placement counts them.
    const local = TRACKER_TO_PLACEMENT.filter(([, rc]) => rc !== 'DISK_GB' || providers[0]!.inventories[rc]);
    const diffs = local.filter(([k, rc]) => t.usage[k] !== (usages[rc] ?? 0));
    if (diffs.length > 0) {
      out.push({
        invariant: 'I4',
        detail: `tracker of ${host} uses ${showUsage(t.usage)} but placement reports ${showResources(usages)}`,
        ids: [host],
      });
    }
  }
  return out;
}

/**
 * Why a move claim on `host` should not be there, or undefined when it should: it must belong
 * to an open migration of a live instance that names this host, on its source side, or on its
 * destination until the destination finished (then the side is the instance's own claim).
 */
function moveClaimProblem(
  c: TrackerClaimView,
  host: string,
  m: MigrationRecord | undefined,
  i: InstanceRecord | undefined,
): string | undefined {
  if (!m || !i || isDeleted(i)) return 'with no such live migration or instance';
  if (m.instanceId !== c.instanceId) return `but that migration moves instance ${m.instanceId}`;
  if (!isOpen(m)) return `but that migration is ${m.status}`;
  if (!moveHosts(m).includes(host))
    return `but that migration is between ${m.sourceHost} and ${m.destHost ?? 'no destination yet'}`;
  if (host !== m.sourceHost && destFinished(m))
    return `but that migration is ${m.status}: its destination side should be the instance's claim by now`;
  return undefined;
}

/** I6: no instance stuck in a task; each owned instance has one live actor, on its owner host. */
export function checkI6(o: Observation): Violation[] {
  const out: Violation[] = [];
  const status = new Map(o.hosts.map((h) => [h.host, h]));
  const actorsOn = new Map<string, string[]>();
  for (const { host, status: s } of answering(o))
    for (const id of s.actors) actorsOn.set(id, [...(actorsOn.get(id) ?? []), host]);
  const silent = new Map<string, string[]>();
  for (const i of o.instances) {
    if (isDeleted(i)) continue;
    if (i.taskState !== null)
      out.push({
        invariant: 'I6',
        detail: `instance ${i.instanceId} is stuck in task state ${i.taskState} (vm ${i.vmState})`,
        ids: [i.instanceId],
      });
    const owner = ownerHost(i);
    if (owner === null) continue;
    if (i.host !== null && i.host !== owner)
      out.push({
        invariant: 'I6',
        detail: `instance ${i.instanceId} is owned by host ${owner} but its record names host ${i.host}`,
        ids: [i.instanceId],
      });
    const h = status.get(owner);
    if (!h?.status) {
      silent.set(owner, [...(silent.get(owner) ?? []), i.instanceId]);
      continue;
    }
    const hosts = actorsOn.get(i.instanceId) ?? [];
    if (!hosts.includes(owner))
      out.push({
        invariant: 'I6',
        detail: `instance ${i.instanceId} is owned by host ${owner} but has no live actor there`,
        ids: [i.instanceId],
      });
    const elsewhere = hosts.filter((x) => x !== owner);
    if (elsewhere.length > 0)
      out.push({
        invariant: 'I6',
        detail: `instance ${i.instanceId} is owned by host ${owner} but also has an actor on ${elsewhere.join(', ')}`,
        ids: [i.instanceId],
      });
  }
  for (const [host, ids] of [...silent].sort(([a], [b]) => a.localeCompare(b))) {
    const why = status.get(host)?.error ?? (status.has(host) ? 'no answer' : 'not a known host');
    out.push({
      invariant: 'I6',
      detail: `host ${host} owns ${ids.length} instance(s) but did not answer its status request (${why})`,
      ids: [host, ...ids],
    });
  }
  const known = new Map(o.instances.map((i) => [i.instanceId, i]));
  for (const { host, status: s } of answering(o)) {
    for (const id of s.actors) {
      const i = known.get(id);
      if (!i)
        out.push({
          invariant: 'I6',
          detail: `host ${host} runs an actor for instance ${id}, which has no record`,
          ids: [id, host],
        });
      else if (!isDeleted(i) && ownerHost(i) === null)
        out.push({
          invariant: 'I6',
          detail: `host ${host} runs an actor for instance ${id}, which the conductor owns`,
          ids: [id, host],
        });
    }
  }
  return out;
}

/** The host whose guest an instance should have, or null if it should have none anywhere. */
function guestHost(i: InstanceRecord): string | null {
  return i.host !== null && !isDeleted(i) && ownerHost(i) === i.host ? i.host : null;
}

/** I7: each answering host's guests match the records (no orphan, no missing guest). */
export function checkI7(o: Observation): Violation[] {
  const out: Violation[] = [];
  const known = new Map(o.instances.map((i) => [i.instanceId, i]));
  const moves = openMovesByInstance(o);
  for (const { host, status } of answering(o)) {
    const guests = new Set(status.guests.map((g) => g.instanceId));
    for (const id of [...guests].sort()) {
      const i = known.get(id);
      if (i && guestHost(i) === host) continue;
      // An open move may keep a guest on both of its hosts (the source's until confirm, the destination's until
      // revert).
      if (i && !isDeleted(i) && movingThrough(moves, id, host)) continue;
      const why = !i
        ? 'has no record'
        : isDeleted(i)
          ? 'is deleted'
          : i.host === null
            ? `has no host (${i.vmState})`
            : `belongs to host ${i.host} (owner ${i.owner})`;
      out.push({ invariant: 'I7', detail: `orphan guest on ${host}: instance ${id} ${why}`, ids: [id, host] });
    }
    for (const i of o.instances) {
      if (guestHost(i) === host && HAS_GUEST.has(i.vmState) && !guests.has(i.instanceId)) {
        out.push({
          invariant: 'I7',
          detail: `missing guest: instance ${i.instanceId} is ${i.vmState} on ${host} but the driver has no guest for it`,
          ids: [i.instanceId, host],
        });
      }
    }
  }
  return out;
}
