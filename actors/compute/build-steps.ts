/**
 * The steps of a build and a delete on a compute host: the tracker claim and its release, the
 * spawn, the placement cleanup, and the hand-back to the conductor for a reschedule. Each is
 * idempotent under its key, because a restored actor issues its in-flight step again:
 *  - tracker commands carry the key as opId and converge by state (an identical claim held is
 *    success, nothing to abort is success);
 *  - a spawn of an existing guest returns it;
 *  - placement deletes treat "no such consumer" as done;
 *  - the reschedule publishes its task with a dedup id and hands the record back with a CAS
 *    that a second run finds already made.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { statePath, StepErrorCode, type InstanceSnapshot, type StepName } from '../../machines/instance/index.js';
import { claimedSizes, volumeBackedClaim } from '../../machines/claims/index.js';
import { TrackerErrorCode } from '../../machines/tracker/index.js';
import {
  encodeMessage,
  envelope,
  subjects,
  type BuildTask,
  type InstanceRecord,
  type VolumeRecord,
} from '../../protocol/index.js';
import { VirtErrorCode } from '../../virt/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { PlacementClient } from '../placement/index.js';
import { type NetStores, type RecordBucket, publishOutbox } from '../records/index.js';
import type { Clock, EventPublisher } from '../runtime/index.js';
import type { TrackerGate } from '../tracker/index.js';
import { dropShelved, type ImageStepDeps } from './image-steps.js';
import { networkIsNoop, networkStep, releasePorts } from './network-steps.js';
import type { PowerStepDeps } from './power-steps.js';
import { nicsOf } from './guest-nics.js';
import { rootVolumeSpec } from './root-volume.js';
import { awaitVifsPlugged, type VifPlugging } from './vif-plugged.js';
import { hasBootVolume } from './volume-steps.js';
import {
  done,
  driverStep,
  failed,
  handedOff,
  takenOf,
  type StepContext,
  type StepResult,
  type StepTable,
} from './step-kit.js';

export const BUILD_STEPS = [
  'claim',
  'network',
  'blockDevices',
  'spawn',
  'releaseClaim',
  'deleteAllocations',
  'reschedule',
] as const;

export interface BuildStepDeps extends PowerStepDeps {
  readonly host: string;
  /** Networks, subnets, ports and their claims: the network step and the release of ports. */
  readonly net: NetStores;
  readonly tracker: TrackerGate;
  readonly placement: PlacementClient;
  readonly instances: RecordBucket<InstanceRecord>;
  readonly js: JetStreamClient;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly prefix?: string;
  /** Nova's vif_plugging_timeout and vif_plugging_is_fatal (vif-plugged.ts); Nova's defaults if absent. */
  readonly vifPlugging?: VifPlugging;
  readonly log?: (line: string) => void;
  /** Told of each spawn's outcome: the host's count of failed builds (Nova's `failed_builds`). */
  readonly buildResults?: BuildResults;
  /** The volumes, for a volume-backed instance's root (root-volume.ts). */
  readonly volumes?: RecordBucket<VolumeRecord>;
}

/** Nova's compute manager `_build_failed` / `_build_succeeded`: failures since the last success. */
export class BuildResults {
  #failed = 0;
  get failed(): number {
    return this.#failed;
  }
  succeeded(): void {
    this.#failed = 0;
  }
  failedOne(): void {
    this.#failed++;
  }
}

export function buildSteps(d: BuildStepDeps, images: ImageStepDeps): StepTable<(typeof BUILD_STEPS)[number]> {
  const s = subjects(d.prefix);

  const claim = async ({ key, snapshot }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    // A volume-backed instance claims no root disk here (machines/claims), as placement's claim.
    const flavor = claimedSizes(c.flavor, volumeBackedClaim(c));
    const a = await d.tracker.use((t) =>
      t.handle({ type: 'instanceClaim', opId: key, instanceId: c.instanceId, flavor }),
    );
    if (a.ok) return done();
    return failed({
      code: a.error.code,
      message: a.error.message,
      reschedulable: a.error.code === TrackerErrorCode.ComputeResourcesUnavailable,
    });
  };

  const spawn = async (x: StepContext): Promise<StepResult> => {
    const r = await spawnGuest(x);
    // A claim refused counts for nothing (the host was full, not broken), as in Nova.
    if (r.ok) d.buildResults?.succeeded();
    else d.buildResults?.failedOne();
    return r;
  };

  const spawnGuest = async ({ snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const spawned = await driverStep(
      d,
      // An unshelve spawns from the image the shelve saved; a volume-backed guest from its volume.
      async () =>
        d.driver.spawn(
          {
            instanceId: c.instanceId,
            name: c.name,
            host: d.host,
            flavor: c.flavor,
            ...(c.shelvedImage ? { image: c.shelvedImage } : c.image ? { image: c.image } : {}),
            // One interface per port, in the boot's order (under libvirt a tap on the network's bridge).
            ...nicsOf(c.ports),
            ...(d.volumes ? await rootVolumeSpec(d.volumes, c.instanceId, c.bootVolume) : {}),
          },
          { signal },
        ),
      (code, message) => ({ code, message, reschedulable: code === VirtErrorCode.SpawnFailed }),
    );
    if (!spawned.ok) return spawned;
    // Nova's wait for network-vif-plugged: past the timeout (fatal), the build ends in error.
    const vifs = await awaitVifsPlugged(d, c.instanceId, c.ports ?? [], signal);
    return vifs.ok ? spawned : failed({ code: StepErrorCode.VirtualInterfaceCreateException, message: vifs.message });
  };

  const releaseClaim = async ({ key, snapshot }: StepContext): Promise<StepResult> => {
    const instanceId = snapshot.context.instanceId;
    const a = await d.tracker.use((t) => t.handle({ type: 'abortInstanceClaim', opId: key, instanceId }));
    return a.ok ? done() : failed({ code: a.error.code, message: a.error.message });
  };

  const deleteAllocations = async ({ snapshot }: StepContext): Promise<StepResult> => {
    // The last step of a delete and of a build's abort: the ports go first (Nova deallocates the
    // network before it drops the allocation). An offload (this step too) keeps them: the instance
    // unshelves with them, and a delete of it offloaded releases them (the conductor's delete).
    if (snapshot.matches('deleting') || snapshot.matches('buildAbort'))
      await releasePorts(d, snapshot.context.instanceId, snapshot.context.networks);
    await d.placement.deleteAllocations(snapshot.context.instanceId);
    // The last step of a delete: a shelved instance's image goes too (an offload keeps it).
    if (snapshot.matches('deleting')) await dropShelved(images, snapshot);
    return done();
  };

  /**
   * Gives the build back to the conductor for its next attempt, in an order that survives a
   * crash between any two steps: (1) drop the instance's allocation (the conductor would
   * otherwise reuse it, on this host); (2) publish the next build task (dedup id per attempt;
   * the conductor waits while this host still owns the record); (3) CAS the record back to the
   * conductor with a new epoch. A re-run finds (1) and (2) done and (3) made or makes it.
   */
  const reschedule = async ({ snapshot }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const bootId = c.op?.id;
    if (bootId === undefined)
      return failed({ code: StepErrorCode.NoOperation, message: 'reschedule without a build in flight' });
    // The ports go with this host's attempt (the next host's network step makes them again), so an
    // instance whose reschedule finds no host holds none.
    await releasePorts(d, c.instanceId, c.networks);
    await d.placement.deleteAllocations(c.instanceId);
    for (;;) {
      const cur = await d.instances.get(c.instanceId);
      if (!cur)
        return failed({ code: StepErrorCode.InstanceNotFound, message: `instance ${c.instanceId} has no record` });
      const rec = cur.value;
      const tried = [...new Set([...(rec.triedHosts ?? []), d.host])];
      if (rec.owner !== `host:${d.host}`) return handedOff(); // (3) already made
      // A delete overtook the reschedule: this step's result is stale and the actor ignores it.
      if (!inReschedule(rec)) return failed({ code: StepErrorCode.Superseded, message: 'the build was cancelled' });
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
      const { machine: _m, outbox: _o, ports: _p, ...base } = rec;
      const back: InstanceRecord = {
        ...base,
        taken: takenOf(rec),
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
        return handedOff();
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
        // Our own actor or a delete wrote in between: read again and decide again.
      }
    }
  };

  // No volume service in novactor yet (docs/instances.md keeps Nova's build steps so that one slots in
  // here): buildNoop, taken as done in the transition that starts it.
  const nothing = (): Promise<StepResult> => Promise.resolve(done());

  // blockDevices: volume-steps.ts's (steps.ts puts it in).
  return {
    claim,
    network: networkStep(d),
    blockDevices: nothing,
    spawn,
    releaseClaim,
    deleteAllocations,
    reschedule,
  };
}

/**
 * Build steps with nothing to do on a host (the actor takes them as done at once, StepExecutor.noop):
 * block devices for an instance with no boot volume, the network step for one that asked for no port.
 */
export const buildNoop = (step: StepName, snapshot: InstanceSnapshot): boolean =>
  (step === 'blockDevices' && !hasBootVolume(snapshot.context)) || (step === 'network' && networkIsNoop(snapshot));

const inReschedule = (rec: InstanceRecord) =>
  statePath((rec.machine as { value?: unknown } | undefined)?.value) === 'reschedule.rescheduling';
