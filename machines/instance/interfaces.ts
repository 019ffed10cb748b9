/**
 * Interface attach and detach (docs/networks.md; Nova's os-interface): one step each on the
 * instance's host, then back to idle. An attach's entry (`{ network, fixedIp? }` or `{ port }`) is
 * appended to the record's `networks` when it is accepted, in the same commit, so the port made for
 * it has an id derived from its place before any step runs: a step run again finds it, and a delete
 * that comes first releases it by the same derivation. The `attachInterface` step makes or binds the
 * port and plugs it into the guest; `detachInterface` unplugs it and lets the port go as its boot's
 * would (made: deleted; the user's: unbound). A detached entry stays in `networks`, marked, so every
 * later one keeps its place. Nova sets no task state for either; novactor sets `attaching_interface`
 * / `detaching_interface` so nothing else runs on the instance meanwhile (docs/names.md).
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  MAX_INSTANCE_NETWORKS,
  MAX_INSTANCE_PORTS,
  type InstanceNetwork,
  type InstancePort,
} from '../../protocol/schemas/networks.js';
import {
  accept,
  errorOf,
  reject,
  txAction,
  waitOn,
  type Acceptance,
  type CommandRule,
  type MachineEvent,
  type Tx,
} from './core.js';
import type { CommandEvent } from './types.js';
import { attachable } from './volumes.js';

export const rules = {
  interface_attach: {
    decide: (ctx, cmd, invalid) => {
      if (!attachable(ctx)) return invalid();
      const port = cmd.body['port'];
      if ((cmd.body['network'] === undefined) === (port === undefined))
        return reject('InvalidInput', 'an interface_attach names a network or a port, not both');
      if (typeof port === 'string' && (ctx.ports ?? []).some((p) => p.portId === port))
        return reject('PortInUse', `port ${port} is attached to instance ${ctx.instanceId} already`);
      if ((ctx.ports ?? []).length >= MAX_INSTANCE_PORTS)
        return reject('InvalidInput', `instance ${ctx.instanceId} has ${MAX_INSTANCE_PORTS} interfaces already`);
      if ((ctx.networks ?? []).length >= MAX_INSTANCE_NETWORKS)
        return reject('InvalidInput', `instance ${ctx.instanceId} had ${MAX_INSTANCE_NETWORKS} interfaces attached`);
      return accept('interfaceAttach');
    },
  },
  interface_detach: {
    decide: (ctx, cmd, invalid) => {
      if (!attachable(ctx)) return invalid();
      const portId = String(cmd.body['portId']);
      if (!(ctx.ports ?? []).some((p) => p.portId === portId))
        return reject('PortNotFound', `port ${portId} is not attached to instance ${ctx.instanceId}`);
      return accept('interfaceDetach');
    },
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

/** The entry an attach command asks for, as the record keeps it. */
function entryOf(body: Readonly<Record<string, unknown>>): InstanceNetwork {
  const { network, port, fixedIp } = body as { network?: string; port?: string; fixedIp?: string };
  return port !== undefined ? { port } : { network: network!, ...(fixedIp !== undefined ? { fixedIp } : {}) };
}

export const acceptances = {
  interfaceAttach: {
    target: 'attachingInterface',
    accept: (t: Tx, cmd: CommandEvent) => {
      const networks = [...(t.ctx.networks ?? []), entryOf(cmd.body)];
      t.ctx = {
        ...t.ctx,
        networks,
        op: { id: cmd.id, action: 'interface_attach', opId: cmd.id, joined: [], networkIndex: networks.length - 1 },
      };
      t.set({ taskState: 'attaching_interface' }).notify('instance.interface_attach.start', cmd.id);
      t.run('attachInterface');
    },
  },
  interfaceDetach: {
    target: 'detachingInterface',
    accept: (t: Tx, cmd: CommandEvent) => {
      const portId = String(cmd.body['portId']);
      t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'interface_detach', opId: cmd.id, joined: [], portId } };
      t.set({ taskState: 'detaching_interface' }).notify('instance.interface_detach.start', cmd.id);
      t.run('detachInterface');
    },
  },
} as const satisfies Record<string, Acceptance>;

const resultOf = (event: MachineEvent) => (event.type === 'STEP_DONE' && 'result' in event ? event.result : undefined);

/** `networks` with entry `index` marked detached (nothing to make or bind for it again). */
const detachedAt = (networks: readonly InstanceNetwork[] | undefined, index: number | undefined) =>
  (networks ?? []).map((n, i) => (i === index ? { ...n, detached: true as const } : n));

export const actions = {
  interfaceAttached: txAction((t, event) => {
    const op = t.ctx.op;
    if (!op) return;
    const port = resultOf(event)?.['port'] as InstancePort | undefined;
    const others = (t.ctx.ports ?? []).filter((p) => p.portId !== port?.portId);
    t.ctx = { ...t.ctx, ports: port ? [...others, port] : others };
    t.set({ taskState: null, fault: null }).final('instance.interface_attach.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  interfaceDetached: txAction((t, event) => {
    const op = t.ctx.op;
    if (!op?.portId) return;
    const index = resultOf(event)?.['networkIndex'];
    t.ctx = {
      ...t.ctx,
      ports: (t.ctx.ports ?? []).filter((p) => p.portId !== op.portId),
      networks: detachedAt(t.ctx.networks, typeof index === 'number' ? index : undefined),
    };
    t.set({ taskState: null, fault: null }).final('instance.interface_detach.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  /**
   * Either failed: the step left the port as it found it (an attach gave back what it made or
   * bound, so its entry is marked detached; a detach's port is still attached); the instance runs on.
   */
  interfaceFailed: txAction((t, event) => {
    const op = t.ctx.op;
    if (!op) return;
    if (op.action === 'interface_attach') t.ctx = { ...t.ctx, networks: detachedAt(t.ctx.networks, op.networkIndex) };
    t.set({ taskState: null, fault: errorOf(event) });
    t.final(`instance.${op.action}.error`);
    t.ctx = { ...t.ctx, op: null };
  }),
};

export const states = {
  attachingInterface: waitOn(
    'attachInterface',
    { target: '#instance.idle', actions: { type: 'interfaceAttached' } },
    { target: '#instance.idle', actions: { type: 'interfaceFailed' } },
  ),
  detachingInterface: waitOn(
    'detachInterface',
    { target: '#instance.idle', actions: { type: 'interfaceDetached' } },
    { target: '#instance.idle', actions: { type: 'interfaceFailed' } },
  ),
} as const;
