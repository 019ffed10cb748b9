/** Read-only views of an instance snapshot: the record, and the step it is waiting on. */
import type { SnapshotFrom } from 'xstate';
import type { InstanceRecordView } from '../../protocol/schemas/instance.js';
import { CLAIM_RELEASED, instanceMachine, type InstanceMachine } from './machine.js';
import { stepKey } from './tx-core.js';
import { STEP_NAMES, type StepName } from './types.js';

export type InstanceSnapshot = SnapshotFrom<InstanceMachine>;

const isStep = (v: unknown): v is StepName => typeof v === 'string' && (STEP_NAMES as readonly string[]).includes(v);

/**
 * The step the snapshot is waiting on, with its idempotency key, or undefined when none is
 * in flight. After restoring a persisted snapshot the actor re-issues exactly this step
 * (resume over error, docs/architecture.md §4.7): it comes from the active state's `meta.step`.
 */
export function inFlightStep(snapshot: InstanceSnapshot): { step: StepName; key: string } | undefined {
  if (snapshot.status !== 'active') return undefined;
  for (const meta of Object.values(snapshot.getMeta() as Record<string, unknown>)) {
    const step = typeof meta === 'object' && meta !== null ? (meta as { step?: unknown }).step : undefined;
    if (!isStep(step)) continue;
    const key = stepKey(snapshot.context, step);
    return key === undefined ? undefined : { step, key };
  }
  return undefined;
}

/** The instance as queries return it. */
export function toRecord(snapshot: Pick<InstanceSnapshot, 'context'>): InstanceRecordView {
  const c = snapshot.context;
  return {
    instanceId: c.instanceId,
    name: c.name,
    host: c.host,
    node: c.node,
    vmState: c.vmState,
    taskState: c.taskState,
    powerState: c.powerState,
    flavor: c.flavor,
    ...(c.fault ? { fault: c.fault } : {}),
    project: c.project,
    user: c.user,
    image: c.image,
    metadata: { ...c.metadata },
    locked: c.locked,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    ...(c.ports ? { ports: [...c.ports] } : {}),
    ...(c.blockDevices && c.blockDevices.length > 0 ? { blockDevices: [...c.blockDevices] } : {}),
  };
}

/**
 * Paths of the states tagged CLAIM_RELEASED, read from the machine definition once: a
 * persisted snapshot carries its state value, not its tags, and resolving each of a host's
 * thousands of records into a full snapshot just to ask would cost its restart dearly.
 */
const CLAIM_RELEASED_PATHS: ReadonlySet<string> = new Set(tagged(instanceMachine.root, CLAIM_RELEASED));

function tagged(node: { path: string[]; tags: string[]; states: object }, tag: string): string[] {
  const here = node.tags.includes(tag) ? [node.path.join('.')] : [];
  return [...here, ...Object.values(node.states as Record<string, typeof node>).flatMap((n) => tagged(n, tag))];
}

/** Paths of the states that wait on a step (`meta.step`), read from the machine definition once. */
const STEP_PATHS: ReadonlySet<string> = new Set(waiting(instanceMachine.root));

function waiting(node: { path: string[]; meta?: unknown; states: object }): string[] {
  const step = (node.meta as { step?: unknown } | undefined)?.step;
  const here = isStep(step) ? [node.path.join('.')] : [];
  return [...here, ...Object.values(node.states as Record<string, typeof node>).flatMap((n) => waiting(n))];
}

/**
 * Whether a persisted snapshot (`record.machine`) is at rest: running, in a state that waits
 * on no step. Such an instance's actor has nothing to resume after a restart, so its host may
 * keep it in compact form and rebuild the snapshot when an event comes (actors/instance).
 * Judged from the state value alone, without resolving the snapshot; any state on the path
 * that names a step counts, so a doubt answers "not at rest".
 */
export function atRest(persisted: unknown): boolean {
  if (typeof persisted !== 'object' || persisted === null) return false;
  const p = persisted as { status?: unknown; value?: unknown };
  if (p.status !== 'active') return false;
  const parts = statePath(p.value).split('.');
  for (let i = 1; i <= parts.length; i++) if (STEP_PATHS.has(parts.slice(0, i).join('.'))) return false;
  return parts[0] !== '';
}

/** The dotted path of a persisted snapshot's state value, e.g. `deleting.destroying`. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return '';
  const [k, v] = Object.entries(value)[0] ?? [];
  if (k === undefined) return '';
  const rest = statePath(v);
  return rest === '' ? k : `${k}.${rest}`;
}

/**
 * Whether the host's tracker should count this instance, judged from its persisted snapshot
 * (`record.machine`): a restarted tracker rebuilds its claims from the records, and must not
 * bring back a claim the instance already released on its way out (reschedule, abort, delete).
 */
export function holdsHostClaim(persisted: unknown): boolean {
  if (typeof persisted !== 'object' || persisted === null) return true; // handed over, not started: the claim step is ahead
  return !CLAIM_RELEASED_PATHS.has(statePath((persisted as { value?: unknown }).value));
}

/**
 * Whether a persisted record shows an operation in flight: a task state (Nova's own sign of
 * work in progress), an operation in the machine's context (some steps, a confirm's, run
 * with no task state), or a build the conductor is still scheduling. Its claims are moving
 * by its own steps, each persisted before it acts, so the records run ahead of the tracker.
 */
export function operationInFlight(r: {
  taskState: string | null;
  owner: string;
  vmState: string;
  machine?: unknown;
}): boolean {
  if (r.taskState !== null) return true;
  if (r.owner === 'conductor' && r.vmState === 'building') return true;
  const op = (r.machine as { context?: { op?: unknown } } | undefined)?.context?.op;
  return op !== undefined && op !== null;
}
