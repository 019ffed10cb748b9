/**
 * The image steps of snapshot and shelve, and the hand-back of an offloaded instance
 * (machines/instance/images.ts, shelve.ts). Each converges when re-run:
 *  - an image's id is derived from the instance and the operation, so a re-run finds the
 *    record its first run made; `snapshot` creates it (`saving`) if missing, `uploadImage`
 *    marks it `active`, `deleteImage` removes it (a missing one is done);
 *  - a delete's last step drops a shelved instance's image (`dropShelved`);
 *  - `handBack` gives the record to the conductor with a CAS (owner, epoch); a re-run finds
 *    it made.
 */
import { type InstanceSnapshot, StepErrorCode } from '../../machines/instance/index.js';
import type { ImageRecord, InstanceRecord } from '../../protocol/index.js';
import { isVirtError, type HypervisorDriver } from '../../virt/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import {
  imageIdOf,
  type ImageStore,
  type RecordBucket,
  publishOutbox,
  removeImage as removeStored,
} from '../records/index.js';
import type { EventPublisher, Clock } from '../runtime/index.js';
import { done, failed, handedOff, takenOf, type StepContext, type StepResult, type StepTable } from './step-kit.js';

export const IMAGE_STEPS = ['snapshot', 'uploadImage', 'deleteImage', 'handBack'] as const;

export interface ImageStepDeps {
  readonly host: string;
  readonly driver: HypervisorDriver;
  readonly instances: RecordBucket<InstanceRecord>;
  readonly images: RecordBucket<ImageRecord>;
  /** The images' bytes: what a driver with disks saved (absent: no driver here saves any). */
  readonly imageData?: ImageStore;
  readonly events: EventPublisher;
  readonly clock: Clock;
}

export { imageIdOf };

/**
 * A deleted shelved instance's image goes with it (Nova's _delete), not left for the periodic
 * audit to repair. A missing one is done.
 */
export async function dropShelved(d: ImageStepDeps, snap: InstanceSnapshot): Promise<void> {
  if (snap.context.shelvedImage) await removeImage(d, snap.context.shelvedImage);
}

/** An image's bytes (when this host keeps any), then its record. */
async function removeImage(d: ImageStepDeps, imageId: string): Promise<void> {
  if (d.imageData) await removeStored({ images: d.images, imageData: d.imageData }, imageId);
  else await d.images.remove(imageId);
}

export function imageSteps(d: ImageStepDeps): StepTable<(typeof IMAGE_STEPS)[number]> {
  const self = `host:${d.host}`;

  const snapshot = async ({ snapshot: snap, signal }: StepContext): Promise<StepResult> => {
    const c = snap.context;
    const op = c.op;
    if (op === null) return failed({ code: StepErrorCode.NoOperation, message: 'snapshot without an operation' });
    const imageId = imageIdOf(c.instanceId, op.opId);
    const now = d.clock.now();
    const image: ImageRecord = {
      imageId,
      name: op.imageName ?? `${c.name}-snapshot`,
      project: c.project,
      instanceId: c.instanceId,
      kind: op.action === 'shelve' ? 'shelved' : 'snapshot',
      status: 'saving',
      sizeBytes: 0,
      createdAt: now,
      updatedAt: now,
    };
    await d.images.create(imageId, image).catch((err: unknown) => {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err; // made by an earlier run
    });
    try {
      const saved = await d.driver.snapshot(c.instanceId, { signal });
      // The bytes before the record says the size: an unshelve anywhere fetches them by id.
      if (saved.file) {
        if (!d.imageData) throw new Error(`no image store for the image ${imageId} the driver saved`);
        await d.imageData.put(imageId, saved.file);
      }
      const cur = await d.images.get(imageId);
      if (cur)
        await d.images.update(
          imageId,
          { ...cur.value, sizeBytes: saved.sizeBytes, updatedAt: d.clock.now() },
          cur.revision,
        );
      return done({ imageId });
    } catch (err) {
      if (isVirtError(err)) return failed({ code: err.code, message: err.message });
      throw err;
    }
  };

  const uploadImage = async ({ snapshot: snap }: StepContext): Promise<StepResult> => {
    const c = snap.context;
    if (c.op === null) return failed({ code: StepErrorCode.NoOperation, message: 'upload without an operation' });
    const imageId = imageIdOf(c.instanceId, c.op.opId);
    const cur = await d.images.get(imageId);
    if (!cur) return failed({ code: StepErrorCode.ImageNotFound, message: `image ${imageId} is gone` });
    if (cur.value.status !== 'active')
      await d.images.update(imageId, { ...cur.value, status: 'active', updatedAt: d.clock.now() }, cur.revision);
    return done({ imageId });
  };

  /** The image of this operation (a failed snapshot or shelve), or the shelved one (an unshelve). */
  const deleteImage = async ({ snapshot: snap }: StepContext): Promise<StepResult> => {
    const c = snap.context;
    const imageId = c.op?.action === 'unshelve' ? c.shelvedImage : c.op ? imageIdOf(c.instanceId, c.op.opId) : null;
    if (imageId !== null) await removeImage(d, imageId);
    return done();
  };

  /** The offloaded record goes to the conductor: no host, no machine, a new epoch. */
  const handBack = async ({ snapshot: snap }: StepContext): Promise<StepResult> => {
    const id = snap.context.instanceId;
    for (;;) {
      const cur = await d.instances.get(id);
      if (!cur || cur.value.owner !== self) return handedOff();
      // The record leaves with no outbox: what it holds goes out first, whichever incarnation
      // of the actor wrote it (records/outbox.ts; found by the CI chaos suite, seed 13).
      await publishOutbox(d.events, cur.value);
      const { machine: _m, outbox: _o, unshelveBy: _u, ...base } = cur.value;
      const back: InstanceRecord = {
        ...base,
        taken: takenOf(cur.value),
        owner: 'conductor',
        epoch: cur.value.epoch + 1,
        host: null,
        node: null,
        updatedAt: d.clock.now(),
      };
      try {
        await d.instances.update(id, back, cur.revision);
        return handedOff();
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
        // Our own actor's last write landed in between: read again.
      }
    }
  };

  return { snapshot, uploadImage, deleteImage, handBack };
}
