/**
 * The instance machine's model for graph walks (coverage.test.ts) and the persisted-record
 * fixtures (test/fixtures/generate-records.ts): the command table, step results and errors,
 * machine inputs, the event alphabet at a snapshot and the abstraction of a snapshot.
 */
import {
  inFlightStep,
  type InstanceEvent,
  type InstanceInput,
  type InstanceSnapshot,
  type StepError,
  type StepName,
} from '../../../machines/instance/index.js';
import type { InstanceAction } from '../../../protocol/schemas/instance.js';
import { FLAVOR, input } from './driver.js';

export const TS = 2000;
export const LARGE = { name: 'm1.large', vcpus: 2, memoryMb: 4096, rootGb: 40 };

/** One way of sending a command: its body and whether the caller is an admin (default: neither). */
export interface CommandVariant {
  readonly body?: Readonly<Record<string, unknown>>;
  readonly admin?: boolean;
}

/**
 * THE COMMAND TABLE: every action of protocol/schemas/instance.ts (the mapped type makes tsc
 * fail when an action is added there and not here), with the bodies and callers that reach
 * decide()'s branches. Each variant is sent with a fresh id at every reachable state.
 */
export const COMMANDS: { readonly [A in InstanceAction]: readonly CommandVariant[] } = {
  boot: [{ body: { name: 'vm1', flavor: FLAVOR.name } }],
  delete: [{}, { body: { soft: true } }, { admin: true }],
  force_delete: [{}, { body: { reclaim: true } }],
  stop: [{}, { body: { sync: true } }],
  start: [{}],
  reboot: [{ body: { type: 'SOFT' } }, { body: { type: 'HARD' } }],
  pause: [{}],
  unpause: [{}],
  suspend: [{}],
  resume: [{}],
  rescue: [{}],
  unrescue: [{}],
  trigger_crash_dump: [{}],
  rebuild: [{ body: { image: 'cirros2' } }],
  // One of the two always differs from the current flavor (accepted), the other is the same one (rejected).
  resize: [{ body: { flavor: LARGE.name } }, { body: { flavor: FLAVOR.name } }],
  confirm_resize: [{}],
  revert_resize: [{}],
  migrate: [{ admin: true }],
  live_migrate: [{ admin: true }],
  live_migrate_abort: [{ admin: true }],
  live_migrate_force_complete: [{ admin: true }],
  evacuate: [{ admin: true }],
  // offload: the host's shelved_offload_time is 0, the shelve offloads at once.
  shelve: [{}, { body: { offload: true } }],
  shelve_offload: [{ admin: true }],
  unshelve: [{}],
  restore: [{}],
  lock: [{}, { admin: true }],
  unlock: [{}, { admin: true }],
  rename: [{ body: { name: 'vm1-renamed' } }],
  snapshot: [{ body: { name: 'snap1' } }],
  volume_attach: [{ body: { volumeId: 'vol1' } }],
  volume_detach: [{ body: { volumeId: 'vol1' } }],
  interface_attach: [{ body: { network: 'net1' } }],
  interface_detach: [{ body: { portId: 'port1' } }],
};

/** Results a step can return besides none: moveClaim's with a claimed destination, and one without. */
export const STEP_RESULTS: Partial<Record<StepName, readonly Readonly<Record<string, unknown>>[]>> = {
  moveClaim: [{ dest: 'h2', flavor: LARGE }, { flavor: LARGE }],
  attachVolume: [{ volumeId: 'vol1', device: 'vdb' }],
  attachInterface: [{ port: { portId: 'port1', networkId: 'net1', mac: 'fa:16:3e:00:00:01', ips: [], created: true } }],
};

/** How a step can fail: plainly, reschedulably (build claim/spawn), with the guest known unchanged. */
export const STEP_ERRORS: readonly StepError[] = [
  { code: 'E', message: 'fail' },
  { code: 'R', message: 'retry elsewhere', reschedulable: true },
  { code: 'B', message: 'rolled back', rollback: true },
];

/**
 * The machine inputs: a build (reschedulable), a forced host (no reschedule), evacuations and
 * the unshelve of an offloaded instance onto this host.
 */
export const INPUTS: Record<string, InstanceInput> = {
  build: input(),
  forcedHost: input({ maxAttempts: 1 }),
  evacuation: input({ bootId: 'evac-1', evacuation: { sourceHost: 'h0', oldVmState: 'active' } }),
  evacuationStopped: input({ bootId: 'evac-2', evacuation: { sourceHost: 'h0', oldVmState: 'stopped' } }),
  unshelveOffloaded: input({ bootId: 'unshelve-1', unshelve: { shelvedImage: 'img-1' } }),
};

let fresh = 0;

/**
 * The alphabet at a snapshot: outcomes of the in-flight step, every command variant with a fresh id, and a redelivered
 * id.
 */
export function alphabet(s: InstanceSnapshot): InstanceEvent[] {
  const out: InstanceEvent[] = [];
  const f = inFlightStep(s);
  if (f) {
    out.push({ type: 'STEP_DONE', ts: TS, step: f.step, key: f.key });
    for (const result of STEP_RESULTS[f.step] ?? [])
      out.push({ type: 'STEP_DONE', ts: TS, step: f.step, key: f.key, result });
    for (const error of STEP_ERRORS) out.push({ type: 'STEP_FAILED', ts: TS, step: f.step, key: f.key, error });
  }
  for (const [action, variants] of Object.entries(COMMANDS) as [InstanceAction, readonly CommandVariant[]][]) {
    for (const v of variants)
      out.push({
        type: 'COMMAND',
        ts: TS,
        id: `c${++fresh}`,
        action,
        body: v.body ?? {},
        user: 'alice',
        isAdmin: v.admin === true,
      });
  }
  const last = s.context.handled.at(-1);
  if (last !== undefined)
    out.push({ type: 'COMMAND', ts: TS, id: last, action: 'delete', body: {}, user: 'alice', isAdmin: false });
  return out;
}

/**
 * The graph's state: what the guards and decide() read, abstracted to keep the graph finite
 * and small: no ids, times, faults, power states, flavors (a resize is offered with both) or
 * who locked (no guard tells an owner's lock from an admin's: both unlocks end in the root's
 * last, unguarded COMMAND transition). Of the operation, what guards and decide() read: its
 * action, the vm state it started from, an offload at once, a finished offload. Of the move,
 * its kind and whether an abort or a force-complete was asked while it is the operation in
 * flight (isEvacuation, a live migration's abort); a move left over by a failed operation
 * (it stays until a delete cleans it up) only for its presence (hasMove, confirm, revert).
 * Each added field multiplies the graph: add one when a new guard reads it (an uncovered
 * guarded branch says so), not before.
 */
export function serialize(s: InstanceSnapshot): string {
  const c = s.context;
  const m = c.move;
  return JSON.stringify([
    s.status,
    s.value,
    c.vmState,
    c.taskState,
    c.host === null,
    c.locked,
    c.op?.action === 'boot' ? c.attempt < c.maxAttempts : null,
    c.op && [c.op.action, c.op.oldVmState ?? null, c.op.offload === true, c.op.finished === true],
    m && (m.opId === c.op?.opId ? [m.kind, m.abortBy !== undefined, m.forceBy !== undefined] : 'left over'),
    // Retries of the cleanup step in flight (the give-up branch needs CLEANUP_RETRIES of them).
    c.op?.retry && inFlightStep(s)?.step === c.op.retry.step ? c.op.retry.n : null,
    // Whether it has a volume (volume_detach's rule reads it), a port (interface_detach's).
    (c.blockDevices?.length ?? 0) > 0,
    (c.ports?.length ?? 0) > 0,
  ]);
}
