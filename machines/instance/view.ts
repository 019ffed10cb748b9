/** Read-only views of an instance snapshot: the record, and the step it is waiting on. */
import type { SnapshotFrom } from 'xstate';
import type { InstanceRecordView } from '../../protocol/schemas/instance.js';
import type { InstanceMachine } from './machine.js';
import { stepKey } from './tx.js';
import { STEP_NAMES, type StepName } from './types.js';

export type InstanceSnapshot = SnapshotFrom<InstanceMachine>;

const isStep = (v: unknown): v is StepName => typeof v === 'string' && (STEP_NAMES as readonly string[]).includes(v);

/**
 * The step the snapshot is waiting on, with its idempotency key, or undefined when none is
 * in flight. After restoring a persisted snapshot the actor re-issues exactly this step
 * (resume over error, DESIGN.md §4): it comes from the active state's `meta.step`.
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
  };
}
