/**
 * The instance machine's steps on a compute host: tracker claims, hypervisor calls, placement
 * cleanup, and the hand-back to the conductor for a reschedule. Every step is idempotent under
 * its key, because a restored actor issues its in-flight step again:
 *  - tracker commands carry the key as opId and converge by state (an identical claim held is
 *    success, nothing to abort is success);
 *  - driver calls converge (spawn of an existing guest returns it, destroy of a missing one
 *    succeeds, power calls bring the guest to the wanted state from wherever it is);
 *  - placement deletes treat "no such consumer" as done;
 *  - the reschedule publishes its task with a dedup id and hands the record back with a CAS
 *    that a second run finds already made.
 */
import { TrackerErrorCode } from '../../machines/tracker/index.js';
import { statePath, type InstanceSnapshot, type StepError, type StepName } from '../../machines/instance/index.js';
import { encodeMessage, envelope, subjects, type BuildTask, type InstanceRecord } from '../../protocol/index.js';
import { isVirtError, VirtErrorCode, type GuestInfo, type HypervisorDriver } from '../../virt/index.js';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Clock, EventPublisher } from '../runtime/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { PlacementClient } from '../placement/index.js';
import { type RecordBucket, publishOutbox } from '../records/index.js';
import type { TrackerGate } from '../tracker/index.js';
import type { StepExecutor, StepOutcome } from '../instance/index.js';

export interface ComputeStepDeps {
  readonly host: string;
  readonly tracker: TrackerGate;
  readonly driver: HypervisorDriver;
  readonly placement: PlacementClient;
  readonly instances: RecordBucket<InstanceRecord>;
  readonly js: JetStreamClient;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly prefix?: string;
  /** Waits between retries of a transient driver failure. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Tries of a call that fails with a retryable driver error before the step fails. */
  readonly driverTries?: number;
  /** The steps of resize and cold migration (move-steps.ts). */
  readonly moves?: { run(step: StepName, key: string, snap: InstanceSnapshot): Promise<StepOutcome> | undefined };
  /** The image steps of snapshot and shelve, and the hand-back of an offloaded instance (image-steps.ts). */
  readonly images?: {
    run(step: StepName, key: string, snap: InstanceSnapshot): Promise<StepOutcome> | undefined;
    dropShelved(snap: InstanceSnapshot): Promise<void>;
  };
  /** Runs before every step (tests hold a step here to kill something while it is in flight). */
  readonly beforeStep?: (step: StepName, key: string) => Promise<void>;
}

const done = (result?: Record<string, unknown>): StepOutcome => (result ? { ok: true, result } : { ok: true });
const failed = (error: StepError): StepOutcome => ({ ok: false, error });

/** The step result that tells the actor its record now belongs to someone else. */
export const HANDED_OFF = 'handedOff';

export function computeSteps(d: ComputeStepDeps): StepExecutor {
  const s = subjects(d.prefix);
  const tries = d.driverTries ?? 3;

  /** A driver call, retried while the failure is transient; the final error becomes the step's. */
  const virt = async (
    call: () => Promise<GuestInfo | void>,
    onError: (code: string, message: string) => StepError,
  ): Promise<StepOutcome> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const g = await call();
        return done(g ? { powerState: g.powerState } : undefined);
      } catch (err) {
        if (isVirtError(err) && err.retryable && attempt < tries) {
          await d.sleep(100 * 2 ** (attempt - 1));
          continue;
        }
        if (isVirtError(err)) return failed(onError(err.code, err.message));
        throw err;
      }
    }
  };

  /** Power operations: a refusal that changed nothing (InvalidState) is a rollback. */
  const power = (call: () => Promise<GuestInfo>) =>
    virt(call, (code, message) => ({
      code,
      message,
      ...(code === VirtErrorCode.InvalidState ? { rollback: true } : {}),
    }));

  const run = async (step: StepName, key: string, snap: InstanceSnapshot): Promise<StepOutcome> => {
    if (d.beforeStep) await d.beforeStep(step, key);
    const c = snap.context;
    const id = c.instanceId;
    switch (step) {
      case 'claim': {
        const flavor = { vcpus: c.flavor.vcpus, memoryMb: c.flavor.memoryMb, rootGb: c.flavor.rootGb };
        const a = await d.tracker.use((t) => t.handle({ type: 'instanceClaim', opId: key, instanceId: id, flavor }));
        if (a.ok) return done();
        return failed({
          code: a.error.code,
          message: a.error.message,
          reschedulable: a.error.code === TrackerErrorCode.ComputeResourcesUnavailable,
        });
      }
      case 'network':
      case 'blockDevices':
        // No network or volume service in novactor (operations.md §2 keeps them as steps so
        // that a real one slots in here); the step still persists the task state.
        return done();
      case 'spawn':
        return virt(
          // An unshelve spawns from the image the shelve saved.
          () =>
            d.driver.spawn({
              instanceId: id,
              name: c.name,
              host: d.host,
              flavor: c.flavor,
              ...(c.shelvedImage ? { image: c.shelvedImage } : c.image ? { image: c.image } : {}),
            }),
          (code, message) => ({ code, message, reschedulable: code === VirtErrorCode.SpawnFailed }),
        );
      case 'powerOff':
        return power(() => d.driver.powerOff(id));
      case 'powerOn':
        return power(() => d.driver.powerOn(id));
      case 'reboot':
        return power(() => d.driver.reboot(id, c.op?.rebootType ?? 'SOFT'));
      case 'pause':
        return power(() => d.driver.pause(id));
      case 'unpause':
        return power(() => d.driver.unpause(id));
      case 'suspend':
        return power(() => d.driver.suspend(id));
      case 'resume':
        return power(() => d.driver.resume(id));
      case 'rescue':
        return power(() => d.driver.rescue(id));
      case 'unrescue':
        return power(() => d.driver.unrescue(id));
      case 'destroy':
        return virt(
          () => d.driver.destroy(id),
          (code, message) => ({ code, message }),
        );
      case 'releaseClaim': {
        const a = await d.tracker.use((t) => t.handle({ type: 'abortInstanceClaim', opId: key, instanceId: id }));
        return a.ok ? done() : failed({ code: a.error.code, message: a.error.message });
      }
      case 'deleteAllocations':
        await deleteAllocations(id);
        // The last step of a delete: a shelved instance's image goes too (an offload keeps it).
        if (snap.matches('deleting')) await d.images?.dropShelved(snap);
        return done();
      case 'reschedule':
        return reschedule(snap);
      default:
        return (
          d.moves?.run(step, key, snap) ??
          d.images?.run(step, key, snap) ??
          failed({ code: 'UnknownStep', message: `this host cannot run step ${step}` })
        );
    }
  };

  const deleteAllocations = (consumer: string) => d.placement.deleteAllocations(consumer);

  /**
   * Gives the build back to the conductor for its next attempt, in an order that survives a
   * crash between any two steps: (1) drop the instance's allocation (the conductor would
   * otherwise reuse it, on this host); (2) publish the next build task (dedup id per attempt;
   * the conductor waits while this host still owns the record); (3) CAS the record back to the
   * conductor with a new epoch. A re-run finds (1) and (2) done and (3) made or makes it.
   */
  const reschedule = async (snap: InstanceSnapshot): Promise<StepOutcome> => {
    const c = snap.context;
    const bootId = c.op?.id;
    if (bootId === undefined) return failed({ code: 'NoOperation', message: 'reschedule without a build in flight' });
    await deleteAllocations(c.instanceId);
    for (;;) {
      const cur = await d.instances.get(c.instanceId);
      if (!cur) return failed({ code: 'InstanceNotFound', message: `instance ${c.instanceId} has no record` });
      const rec = cur.value;
      const tried = [...new Set([...(rec.triedHosts ?? []), d.host])];
      if (rec.owner !== `host:${d.host}`) return done({ [HANDED_OFF]: true }); // (3) already made
      // A delete overtook the reschedule: this step's result is stale and the actor ignores it.
      if (statePath((rec.machine as { value?: unknown } | undefined)?.value) !== 'reschedule.rescheduling')
        return failed({ code: 'Superseded', message: 'the build was cancelled' });
      const task: BuildTask = {
        instanceId: c.instanceId,
        commandId: bootId,
        attempt: c.attempt + 1,
        tried,
        alternates: [],
      };
      const msgId = `${bootId}:build:${task.attempt}`;
      const env = envelope({
        id: msgId,
        type: 'conductor.build',
        ts: d.clock.now(),
        project: rec.project,
        user: rec.user,
        corr: bootId,
        body: task,
      });
      await d.js.publish(s.conductor('build'), encodeMessage(env), { msgID: msgId });
      // The record goes back without its outbox: what it holds goes out first (records/outbox.ts).
      await publishOutbox(d.events, rec);
      const { machine: _m, outbox: _o, ...base } = rec;
      const back: InstanceRecord = {
        ...base,
        owner: 'conductor',
        epoch: rec.epoch + 1,
        host: null,
        node: null,
        vmState: 'building',
        taskState: 'scheduling',
        powerState: 'nostate',
        triedHosts: tried,
        updatedAt: d.clock.now(),
      };
      try {
        await d.instances.update(c.instanceId, back, cur.revision);
        return done({ [HANDED_OFF]: true });
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
        // Our own actor or a delete wrote in between: read again and decide again.
      }
    }
  };

  return { run };
}
