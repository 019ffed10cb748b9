/**
 * The per-instance periodics of a compute host (docs/instances.md, Periodic tasks), as pure decisions: given
 * the instance actor's context, the step it waits on and the time, is something due, and
 * which event goes to the actor? The actor layer reads, schedules and sends; the machine
 * still decides whether the command is valid when it arrives (a restore that got there
 * first wins over a reclaim).
 *
 * Commands carry ids derived from what they react to (the move, the last update), so a
 * second run, or a run on a restored actor, sends the same id: a duplicate the actor ignores.
 */
import type { PowerState } from '../../protocol/schemas/instance.js';
import type { CommandEvent, InstanceAction, InstanceContext, StepFailedEvent, StepName } from './types.js';

export interface InstancePeriodicInput {
  readonly context: InstanceContext;
  /** What `inFlightStep(snapshot)` says: the step the instance waits on, if any. */
  readonly inFlight?: { readonly step: StepName; readonly key: string } | undefined;
  readonly now: number;
}

/** Command ids are at most 128 characters. */
const commandId = (id: string) => id.slice(0, 128);

/** The periodics that send their instance a command; its id is `<kind>:<what it is about>`. */
export const INTERNAL_COMMAND_KINDS = [
  'auto-confirm',
  'reclaim',
  'reboot-timeout',
  'rescue-timeout',
  'shelve-offload',
  'sync',
] as const;
type InternalKind = (typeof INTERNAL_COMMAND_KINDS)[number];

/** Whether a command id is one a host's periodic sent (no client did: the chaos checker's `unsent` rule). */
export const isInternalCommandId = (id: string): boolean => INTERNAL_COMMAND_KINDS.some((k) => id.startsWith(`${k}:`));

const internal = (
  now: number,
  kind: InternalKind,
  about: string,
  action: InstanceAction,
  body: Record<string, unknown> = {},
): CommandEvent => ({
  type: 'COMMAND',
  ts: now,
  id: commandId(`${kind}:${about}`),
  action,
  body,
  user: 'novactor',
  isAdmin: true,
});

/** Idle for longer than `ms` (0 or less = never due). */
const idleFor = (c: InstanceContext, now: number, ms: number) =>
  ms > 0 && c.taskState === null && now - c.updatedAt >= ms;

/** Nova's _poll_unconfirmed_resizes (resize_confirm_window): a resize left RESIZED is confirmed. */
export function autoConfirmDue({ context: c, now }: InstancePeriodicInput, windowMs: number): CommandEvent | null {
  if (c.vmState !== 'resized' || c.move === null || !idleFor(c, now, windowMs)) return null;
  // One id per move: every run and every restored actor confirms the same move.
  return internal(now, 'auto-confirm', c.move.opId, 'confirm_resize');
}

/** Nova's _reclaim_queued_deletes (reclaim_instance_interval): a soft-deleted instance is deleted for good. */
export function reclaimDue({ context: c, now }: InstancePeriodicInput, intervalMs: number): CommandEvent | null {
  if (c.vmState !== 'soft-delete' || !idleFor(c, now, intervalMs)) return null;
  return internal(now, 'reclaim', `${c.instanceId}:${c.updatedAt}`, 'force_delete', { reclaim: true });
}

/** The build steps proper: a failure there aborts the build (a reschedule or abort in progress is left to finish). */
const BUILD_STEPS: ReadonlySet<StepName> = new Set(['claim', 'network', 'blockDevices', 'spawn']);

/**
 * Nova's _check_instance_build_time (instance_build_timeout): a build older than the timeout
 * fails its in-flight step, not reschedulable, so the machine aborts it (destroy, release the
 * claim, delete the allocations) and ends in error. The hung step's late result carries its
 * old key in a state that waits on another step: the machine ignores it.
 */
export function buildTimeoutDue(
  { context: c, inFlight, now }: InstancePeriodicInput,
  timeoutMs: number,
): StepFailedEvent | null {
  if (timeoutMs <= 0 || c.vmState !== 'building' || c.fault !== null || !inFlight || !BUILD_STEPS.has(inFlight.step))
    return null;
  const age = now - c.createdAt;
  if (age < timeoutMs) return null;
  return {
    type: 'STEP_FAILED',
    ts: now,
    step: inFlight.step,
    key: inFlight.key,
    error: {
      code: 'BuildTimeout',
      message: `build not finished after ${Math.round(age / 1000)} s (instance_build_timeout ${Math.round(timeoutMs / 1000)} s), stuck in ${inFlight.step}`,
    },
  };
}

/** Soft reboot task states (Nova's _poll_rebooting_instances looks at these). */
export const SOFT_REBOOT_TASKS: readonly string[] = ['rebooting', 'reboot_pending', 'reboot_started'];

/**
 * Nova's _poll_rebooting_instances (reboot_timeout): a soft reboot that hangs is taken over by a HARD one
 * (ALLOW_REBOOT).
 */
export function rebootTimeoutDue({ context: c, now }: InstancePeriodicInput, timeoutMs: number): CommandEvent | null {
  if (
    timeoutMs <= 0 ||
    c.taskState === null ||
    !SOFT_REBOOT_TASKS.includes(c.taskState) ||
    now - c.updatedAt < timeoutMs
  )
    return null;
  return internal(now, 'reboot-timeout', `${c.instanceId}:${c.updatedAt}`, 'reboot', { type: 'HARD' });
}

/** Nova's _poll_rescued_instances (rescue_timeout): a rescue left on too long is undone. */
export function rescueTimeoutDue({ context: c, now }: InstancePeriodicInput, timeoutMs: number): CommandEvent | null {
  if (c.vmState !== 'rescued' || !idleFor(c, now, timeoutMs)) return null;
  return internal(now, 'rescue-timeout', `${c.instanceId}:${c.updatedAt}`, 'unrescue');
}

/**
 * Nova's _poll_shelved_instances (shelved_offload_time > 0): an instance shelved longer is
 * offloaded (its guest and host resources go). 0 (offload at once) is the shelve's own
 * business, -1 is never: neither is due here.
 */
export function shelvedOffloadDue({ context: c, now }: InstancePeriodicInput, offloadMs: number): CommandEvent | null {
  if (c.vmState !== 'shelved' || !idleFor(c, now, offloadMs)) return null;
  return internal(now, 'shelve-offload', `${c.instanceId}:${c.updatedAt}`, 'shelve_offload');
}

/** What the power-state sync does about one instance. */
export type PowerSyncDecision = { readonly send: CommandEvent } | { readonly powerOff: true } | null;

/** Power sync looks only at instances with nothing in flight (Nova skips a set task_state). */
export const powerSyncApplies = (c: InstanceContext) => c.taskState === null && c.op === null;

/**
 * Nova's _sync_power_states: a guest that went off behind our back (shut down, crashed,
 * suspended) stops its active or paused instance, through its actor; a guest running
 * although its instance is stopped is powered off. Other states are left alone.
 */
export function powerSyncDue({ context: c, now }: InstancePeriodicInput, guest: PowerState): PowerSyncDecision {
  if (!powerSyncApplies(c)) return null;
  const off = guest === 'shutdown' || guest === 'crashed' || guest === 'suspended';
  if ((c.vmState === 'active' || c.vmState === 'paused') && off)
    return { send: internal(now, 'sync', `${c.instanceId}:${c.updatedAt}`, 'stop', { sync: true }) };
  if (c.vmState === 'stopped' && guest === 'running') return { powerOff: true };
  return null;
}
