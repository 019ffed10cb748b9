/**
 * Server groups (Nova's os-server-groups, 2.64): `nv.group.<project>.create|list|show|delete`,
 * request/reply in the `gateway` queue group (docs/protocol.md §8.10, docs/scheduling.md).
 * Every request may be sent again after a timeout, to any gateway: `create` derives the group's
 * id from the request id, `delete` finds it gone. The subject's project scopes everything:
 * another project's group is not found. Members are added by the conductor as it places them;
 * a member whose instance is deleted is not listed (and leaves the record at the next placement).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { rulesProblem } from '../../machines/scheduling/index.js';
import {
  groupType,
  subjects,
  type Envelope,
  type GroupPolicy,
  type GroupRules,
  type ServerGroupRecord,
  type ServerGroupView,
} from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { type Answer, type Clock, type IdSource, serveProjectFamily } from '../runtime/index.js';
import { derivedUuid, type Stores } from '../records/index.js';

export interface GroupServiceOptions {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly prefix?: string;
  readonly log?: (line: string, err?: unknown) => void;
}

const refuse = (status: number, code: string, message: string): Answer => ({
  ok: false,
  error: { status, code, message },
});
const notFound = (id: string) => refuse(404, 'ServerGroupNotFound', `server group ${id} not found`);

export function serveGroups(o: GroupServiceOptions): Subscription {
  return serveProjectFamily({
    nc: o.nc,
    ctx: { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' },
    head: `${subjects(o.prefix).prefix}.group.`,
    typeOf: groupType,
    what: 'server group',
    handle: groupService(o.stores, o.clock),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** The four operations, for one project's request each. */
export function groupService(
  stores: Stores,
  clock: Clock,
): (project: string, req: Envelope<Record<string, unknown>>) => Promise<Answer> {
  const groups = stores.groups;

  /** The members that count: those whose instance lives (a deleted one leaves the group, as in Nova). */
  const view = async (g: ServerGroupRecord): Promise<ServerGroupView> => {
    const ids = Object.keys(g.members);
    const records = await Promise.all(ids.map((id) => stores.instances.get(id)));
    const live = ids.filter((_, k) => {
      const r = records[k]?.value;
      return r !== undefined && r.vmState !== 'deleted';
    });
    return {
      id: g.groupId,
      name: g.name,
      policy: g.policy,
      rules: g.rules,
      members: live,
      project: g.project,
      user: g.user,
    };
  };

  const mine = async (project: string, id: string) => {
    const r = await groups.get(id);
    return r && r.value.project === project ? r : undefined;
  };

  const create = async (project: string, req: Envelope<Record<string, unknown>>): Promise<Answer> => {
    const policy = req.body['policy'] as GroupPolicy;
    const rules = (req.body['rules'] as GroupRules | undefined) ?? {};
    const problem = rulesProblem(policy, rules);
    if (problem) return refuse(400, 'InvalidInput', problem);
    const groupId = derivedUuid(`server-group:${project}:${req.id}`);
    const now = clock.now();
    const group: ServerGroupRecord = {
      groupId,
      name: String(req.body['name']),
      project,
      user: req.user,
      policy,
      rules,
      members: {},
      createdAt: now,
      updatedAt: now,
    };
    try {
      await groups.create(groupId, group);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      const cur = await mine(project, groupId); // the same request again
      if (!cur) throw err;
      return { ok: true, body: { group: await view(cur.value) } };
    }
    return { ok: true, body: { group: await view(group) } };
  };

  return async (project, req) => {
    const op = req.type.slice('group.'.length);
    if (op === 'create') return create(project, req);
    if (op === 'list') {
      const all = (await groups.entries()).filter((e) => e.value.project === project);
      const out = await Promise.all(all.map((e) => view(e.value)));
      return {
        ok: true,
        body: { groups: out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)) },
      };
    }
    const id = String(req.body['groupId']);
    const cur = await mine(project, id);
    if (op === 'show') return cur ? { ok: true, body: { group: await view(cur.value) } } : notFound(id);
    // delete: Nova deletes a group with members; they keep running, no longer in any group.
    if (!cur) return notFound(id);
    await groups.remove(id);
    return { ok: true, body: {} };
  };
}
