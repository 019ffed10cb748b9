/**
 * Snapshots, and the image half of shelve (docs/instances.md, Shelve, offload, unshelve and snapshot). The `snapshot`
 * step saves
 * the guest to an image record (status `saving`) and `uploadImage` completes it (`active`);
 * the task states follow Nova's (image_snapshot_pending → image_snapshot →
 * image_pending_upload → image_uploading for a snapshot; shelving_image_pending_upload →
 * shelving_image_uploading for a shelve). A failure deletes the image (`deleteImage`,
 * Nova's delete_image_on_error) before the operation's `.error`. A snapshot never changes
 * the vm_state; a shelve that fails after powering off leaves the instance stopped, as its
 * guest is.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  errorOf,
  txAction,
  waitOn,
  waitOnEither,
  type Acceptance,
  type CommandRule,
  type MachineEvent,
  type Tx,
} from './core.js';
import type { CommandEvent } from './types.js';
import { savable, shelved } from './shelve.js';

export const rules = {
  // A snapshot is not a mutation of the instance: Nova lets it through a lock.
  snapshot: { lock: 'exempt', decide: (ctx, _cmd, invalid) => savable(ctx, 'snapshot', invalid) },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

function acceptSnapshot(t: Tx, cmd: CommandEvent): void {
  const name = typeof cmd.body['name'] === 'string' ? cmd.body['name'] : `${t.ctx.name}-snapshot`;
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'snapshot', opId: cmd.id, joined: [], imageName: name } };
  t.set({ taskState: 'image_snapshot_pending' })
    .notify('instance.snapshot.start', cmd.id)
    .set({ taskState: 'image_snapshot' })
    .run('snapshot');
}

/** The guest is saved: upload. */
function imageSaved(t: Tx): void {
  if (t.ctx.op?.action === 'shelve') t.set({ taskState: 'shelving_image_uploading' });
  else t.set({ taskState: 'image_pending_upload' }).set({ taskState: 'image_uploading' });
  t.run('uploadImage');
}

/** The image is active: the snapshot is done; a shelve goes on. */
function imageUploaded(t: Tx, event: MachineEvent): void {
  if (t.ctx.op?.action === 'shelve') {
    const r = event.type === 'STEP_DONE' && 'result' in event ? event.result : undefined;
    shelved(t, typeof r?.['imageId'] === 'string' ? r['imageId'] : null);
    return;
  }
  t.set({ taskState: null, fault: null }).final('instance.snapshot.end');
  t.ctx = { ...t.ctx, op: null };
}

/** Saving or uploading failed: the image goes first, then the `.error` (imageCleaned). */
function imageFailed(t: Tx, event: MachineEvent): void {
  t.set({ fault: errorOf(event) }).run('deleteImage');
}

function imageCleaned(t: Tx): void {
  const shelve = t.ctx.op?.action === 'shelve';
  t.set(shelve ? { vmState: 'stopped', taskState: null, powerState: 'shutdown' } : { taskState: null }).final(
    shelve ? 'instance.shelve.error' : 'instance.snapshot.error',
  );
  t.ctx = { ...t.ctx, op: null };
}

export const acceptances = {
  snapshot: { target: 'imaging', accept: acceptSnapshot },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  imageSaved: txAction(imageSaved),
  imageUploaded: txAction((t, event) => imageUploaded(t, event)),
  imageFailed: txAction((t, event) => imageFailed(t, event)),
  imageCleaned: txAction(imageCleaned),
};

const FAILED = { target: 'cleaning', actions: { type: 'imageFailed' } } as const;
const CLEANED = { target: '#instance.idle', actions: { type: 'imageCleaned' } } as const;

export const states = {
  /** Snapshot, or a shelve's image: save, upload; a failure deletes the image. */
  imaging: {
    initial: 'saving',
    states: {
      saving: waitOn('snapshot', { target: 'uploading', actions: { type: 'imageSaved' } }, FAILED),
      uploading: waitOnEither(
        'uploadImage',
        'offloadsAtOnce',
        { target: '#instance.offloading', actions: { type: 'imageUploaded' } },
        { target: '#instance.idle', actions: { type: 'imageUploaded' } },
        FAILED,
      ),
      cleaning: waitOn('deleteImage', CLEANED, CLEANED),
    },
  },
} as const;
