/**
 * The steps of volume attach and detach on the instance's host (docs/volumes.md), Nova's new-style
 * flow: reserve the attachment on the volume's record (compare-and-set), connect it to the guest
 * (the driver), complete it (`in-use`); a detach marks it `detaching`, disconnects it, deletes it.
 * Each write goes through the volume's rules (machines/volumes) and each converges when run again:
 * the attachment's id and device are derived or read back from the record, a reservation already
 * made or a connection already there is success. A step killed at any await and run again under
 * its key so ends where one uninterrupted run would have. A failure leaves the volume as the step
 * found it: an attach that cannot connect releases its reservation, a detach that cannot disconnect
 * puts the attachment back to `attached`.
 */
import { blockDevicesOf, StepErrorCode, type InstanceContext } from '../../machines/instance/index.js';
import {
  attached,
  attaching,
  completeMove,
  created,
  createFailed,
  detaching,
  dropAttachment,
  keepOnly,
  nextDevice,
  rehost,
  release,
  reserve,
  reserveMove,
  type VolumeRefusal,
} from '../../machines/volumes/index.js';
import { leakedAttachment, repairNow } from '../../machines/compute/index.js';
import type { AuditFinding, InstanceRecord, VolumeRecord } from '../../protocol/index.js';
import { ImageUnacceptable, type HypervisorDriver, type VolumeStore } from '../../virt/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { changeVolume, derivedUuid, releaseInstanceVolumes, type RecordBucket } from '../records/index.js';
import type { Clock, KillPoint } from '../runtime/index.js';
import {
  done,
  driverStep,
  failed,
  unsupported,
  type DriverRetry,
  type StepContext,
  type StepFn,
  type StepResult,
  type StepTable,
} from './step-kit.js';

export const VOLUME_STEPS = ['attachVolume', 'detachVolume'] as const;

export interface VolumeStepDeps extends DriverRetry {
  readonly host: string;
  readonly driver: HypervisorDriver;
  readonly volumes: RecordBucket<VolumeRecord>;
  readonly clock: Clock;
  /** Removes a volume's file (a delete_on_termination volume goes with its instance). */
  readonly removeFile: (path: string) => Promise<void>;
  readonly killPoint?: KillPoint;
  /** Where this host makes a boot's new root volume (docs/volumes.md); absent: it cannot. */
  readonly store?: VolumeStore;
}

/** The attachment of `volumeId` to `instanceId`: the same id on every retry, on every host. */
export const attachmentIdOf = (instanceId: string, volumeId: string): string =>
  derivedUuid(`attachment:${instanceId}:${volumeId}`);

/**
 * A live migration's attachment of `volumeId` for its destination (Nova's new attachment of
 * pre_live_migration): one per migration, so every re-run of its steps, and its rollback, finds it.
 */
export const moveAttachmentIdOf = (instanceId: string, volumeId: string, migrationId: string): string =>
  derivedUuid(`attachment:${instanceId}:${volumeId}:${migrationId}`);

const STEP_CODE = {
  VolumeInUse: StepErrorCode.VolumeInUse,
  VolumeInvalidState: StepErrorCode.VolumeInvalidState,
  VolumeNotAttached: StepErrorCode.VolumeInvalidState,
  InvalidInput: StepErrorCode.VolumeInvalidState,
} as const;
/** A refusal of the volume's rules: nothing was changed, so the instance is as it was (a rollback). */
const refusedBy = (r: VolumeRefusal): StepResult =>
  failed({ code: STEP_CODE[r.code], message: r.message, rollback: true });
const notFound = (volumeId: string): StepResult =>
  failed({ code: StepErrorCode.VolumeNotFound, message: `volume ${volumeId} not found`, rollback: true });

export function volumeSteps(d: VolumeStepDeps): StepTable<(typeof VOLUME_STEPS)[number]> {
  const now = () => d.clock.now();
  /** One write of the volume's record, then its kill point (tests stop the step here). */
  const change = async (
    c: InstanceContext,
    id: string,
    step: string,
    status: string,
    rule: (v: VolumeRecord) => ReturnType<typeof reserve>,
  ) => {
    const out = await changeVolume(d.volumes, id, rule);
    await d.killPoint?.('volume.changed', { instanceId: c.instanceId, volumeId: id, step, status });
    return out;
  };

  const attachVolume = async ({ snapshot, signal }: Pick<StepContext, 'snapshot' | 'signal'>) => {
    const c = snapshot.context;
    const volumeId = c.op?.volumeId;
    if (!volumeId) return failed({ code: StepErrorCode.NoOperation, message: 'no volume to attach' });
    const cur = await d.volumes.get(volumeId);
    if (!cur || cur.value.project !== c.project) return notFound(volumeId);
    const attach = d.driver.attachVolume?.bind(d.driver);
    if (!attach) return unsupported(StepErrorCode.VolumesUnsupported, d.host, 'attach volumes');
    // A re-run finds its own reservation and keeps the device it chose.
    const mine = cur.value.attachments.find((a) => a.instanceId === c.instanceId);
    const device = mine?.device ?? nextDevice(blockDevicesOf(c).map((b) => b.device));
    const reserved = await change(c, volumeId, 'attachVolume', 'reserved', (v) =>
      reserve(
        v,
        {
          attachmentId: attachmentIdOf(c.instanceId, volumeId),
          instanceId: c.instanceId,
          host: d.host,
          device,
          deleteOnTermination: c.op?.deleteOnTermination === true,
        },
        now(),
      ),
    );
    if (!reserved.ok) return reserved.refusal ? refusedBy(reserved.refusal) : notFound(volumeId);
    const own = reserved.volume.attachments.find((a) => a.instanceId === c.instanceId)!;
    const going = await change(c, volumeId, 'attachVolume', 'attaching', (v) => attaching(v, c.instanceId, now()));
    if (!going.ok) return going.refusal ? refusedBy(going.refusal) : notFound(volumeId);
    const v = going.volume;
    const connected = await driverStep(
      d,
      () => attach(c.instanceId, { volumeId, path: v.path, format: v.format, device: own.device }, { signal }),
      (code, message) => ({ code, message, rollback: true }),
    );
    if (!connected.ok) {
      // Nothing is connected: give the reservation back, then fail (a kill before this leaves the
      // reservation to the re-run, which tries again and ends here or attached).
      await d.driver.detachVolume?.(c.instanceId, volumeId, { signal });
      await change(c, volumeId, 'attachVolume', 'released', (x) => release(x, c.instanceId, now()));
      return connected;
    }
    await d.killPoint?.('volume.changed', {
      instanceId: c.instanceId,
      volumeId,
      step: 'attachVolume',
      status: 'connected',
    });
    const complete = await change(c, volumeId, 'attachVolume', 'attached', (x) => attached(x, c.instanceId, now()));
    if (!complete.ok) return complete.refusal ? refusedBy(complete.refusal) : notFound(volumeId);
    return done({ volumeId, device: own.device });
  };

  const detachVolume = async ({ snapshot, signal }: Pick<StepContext, 'snapshot' | 'signal'>) => {
    const c = snapshot.context;
    const volumeId = c.op?.volumeId;
    if (!volumeId) return failed({ code: StepErrorCode.NoOperation, message: 'no volume to detach' });
    const going = await change(c, volumeId, 'detachVolume', 'detaching', (v) => detaching(v, c.instanceId, now()));
    // Gone, or no attachment left (a re-run after the release): the detach is done.
    if (!going.ok) return going.refusal?.code === 'VolumeInvalidState' ? refusedBy(going.refusal) : done();
    const disconnected = await driverStep(
      d,
      () => d.driver.detachVolume?.(c.instanceId, volumeId, { signal }) ?? Promise.resolve(),
      (code, message) => ({ code, message, rollback: true }),
    );
    if (!disconnected.ok) {
      // Nova's roll_detaching: in-use again.
      await change(c, volumeId, 'detachVolume', 'attached', (v) => attached(v, c.instanceId, now()));
      return disconnected;
    }
    await d.killPoint?.('volume.changed', {
      instanceId: c.instanceId,
      volumeId,
      step: 'detachVolume',
      status: 'disconnected',
    });
    await change(c, volumeId, 'detachVolume', 'released', (v) => release(v, c.instanceId, now()));
    return done();
  };

  return { attachVolume, detachVolume };
}

/**
 * A deleted instance's volumes, released (records/volumes.ts releaseInstanceVolumes): those it
 * lists, and the one of an attach its delete pre-empted (`attachingVolume`: reserved, maybe
 * connected, never listed). A guest destroyed first holds none of them.
 */
export async function releaseVolumes(
  d: VolumeStepDeps,
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices' | 'attachingVolume'>,
): Promise<void> {
  const listed = blockDevicesOf(c);
  const pending =
    c.attachingVolume !== undefined && !listed.some((b) => b.volumeId === c.attachingVolume)
      ? [{ volumeId: c.attachingVolume, deleteOnTermination: false }]
      : [];
  await releaseInstanceVolumes(d.volumes, () => d.clock.now(), d.removeFile, c.instanceId, [...listed, ...pending]);
}

/**
 * The instance's volumes attached on `d.host`, where its guest runs now: each attachment names
 * this host (Nova's attachment for a move's destination, the source's again after a revert, an
 * unshelve's new host), and the guest has each one but the root (which the records alone hold)
 * connected. Idempotent: a host already named is unchanged, a connected volume is success. A
 * volume gone or released meanwhile (a delete pre-empted the operation) is skipped and logged.
 */
export async function attachVolumesTo(
  d: Pick<VolumeStepDeps, 'host' | 'driver' | 'volumes' | 'clock' | 'killPoint'> & {
    readonly log?: (line: string, err?: unknown) => void;
  },
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices'>,
  signal: AbortSignal,
): Promise<void> {
  for (const b of blockDevicesOf(c)) {
    const out = await changeVolume(d.volumes, b.volumeId, (v) => rehost(v, c.instanceId, d.host, d.clock.now()));
    if (!out.ok) {
      d.log?.(`volumes of ${c.instanceId}: ${b.volumeId} not attached on ${d.host}: ${out.refusal?.message ?? 'gone'}`);
      continue;
    }
    const status = 'rehosted';
    await d.killPoint?.('volume.changed', { instanceId: c.instanceId, volumeId: b.volumeId, step: 'here', status });
    if (b.bootIndex === 0 || !d.driver.attachVolume) continue;
    const v = out.volume;
    const connection = { volumeId: v.volumeId, path: v.path, format: v.format, device: b.device };
    await d.driver.attachVolume(c.instanceId, connection, { signal });
  }
}

/**
 * A spawn, then the instance's volumes on its new guest: an unshelve of an offloaded instance
 * (on any host) and a rebuild (a new guest) spawn without them. The spawn's result is kept (its
 * power state); a volume the driver cannot connect fails the step as the spawn would have.
 */
export const thenAttachVolumes =
  (spawn: StepFn, d: VolumeStepDeps): StepFn =>
  async (x) => {
    const r = await spawn(x);
    const c = x.snapshot.context;
    if (!r.ok || blockDevicesOf(c).length === 0) return r;
    const attachedAll = await driverStep(
      d,
      () => attachVolumesTo(d, c, x.signal),
      (code, message) => ({ code, message }),
    );
    return attachedAll.ok ? r : attachedAll;
  };

/** Whether a build's blockDevices step has anything to do: only for a volume-backed instance. */
export const hasBootVolume = (c: Pick<InstanceContext, 'bootVolume'>): boolean => c.bootVolume !== undefined;

/**
 * The build's blockDevices step (Nova's _prep_block_device) for a volume-backed instance: its root
 * volume made when the boot asked for a new one (record `creating`, the file, `available`: the
 * volume service's own order), then reserved and completed as `vda` for the instance (the guest
 * does not exist yet: its spawn boots from the volume). Every write converges when run again, so a
 * restored actor's re-run ends where one run would have. A volume made for an image holds the
 * image's bytes where the driver has them (libvirt's `imageFile`); the fake and process drivers
 * read no disk, and their volumes stay blank.
 */
export function blockDevicesStep(d: VolumeStepDeps) {
  return async ({
    snapshot,
    signal,
  }: {
    snapshot: { context: InstanceContext };
    signal?: AbortSignal;
  }): Promise<StepResult> => {
    const c = snapshot.context;
    const bv = c.bootVolume;
    const root = blockDevicesOf(c).find((b) => b.bootIndex === 0);
    if (!bv || !root) return done();
    const point = (status: string) =>
      d.killPoint?.('volume.changed', {
        instanceId: c.instanceId,
        volumeId: bv.volumeId,
        step: 'blockDevices',
        status,
      });
    if (bv.sourceType !== 'volume') {
      const store = d.store;
      if (!store) return failed({ code: StepErrorCode.VolumesUnsupported, message: `${d.host} has no volume store` });
      if (!(await d.volumes.get(bv.volumeId))) {
        const format = await store.format();
        const at = d.clock.now();
        try {
          await d.volumes.create(bv.volumeId, {
            volumeId: bv.volumeId,
            name: `${c.name}-root`,
            project: c.project,
            user: c.user,
            sizeGb: bv.sizeGb ?? 1,
            status: 'creating',
            multiattach: false,
            format,
            path: store.pathOf(bv.volumeId, format),
            ...(bv.imageId !== undefined ? { imageId: bv.imageId } : {}),
            attachments: [],
            createdAt: at,
            updatedAt: at,
          });
        } catch (err) {
          if (!isActorError(err, ActorErrorCode.CasConflict)) throw err; // made by an earlier run
        }
      }
      const cur = await d.volumes.get(bv.volumeId);
      if (cur?.value.status === 'creating') {
        const v = cur.value;
        const made = await driverStep(
          d,
          async () => {
            // The image's bytes, where the driver has them (libvirt): the guest boots from them.
            const from =
              bv.imageId !== undefined && d.driver.imageFile
                ? await d.driver.imageFile(bv.imageId, signal ? { signal } : {})
                : undefined;
            await store.create(v.path, v.format, v.sizeGb, from);
          },
          (code, message) => ({ code, message }),
        ).catch(async (err: unknown) => {
          if (!(err instanceof ImageUnacceptable)) throw err;
          await changeVolume(d.volumes, bv.volumeId, (x) => createFailed(x, d.clock.now()));
          return failed({ code: StepErrorCode.ImageUnacceptable, message: `${bv.volumeId}: ${err.message}` });
        });
        if (!made.ok) return made;
        await changeVolume(d.volumes, bv.volumeId, (v) => created(v, d.clock.now()));
      }
      await point('created');
    }
    const cur = await d.volumes.get(bv.volumeId);
    if (!cur || cur.value.project !== c.project) return notFound(bv.volumeId);
    const reserved = await changeVolume(d.volumes, bv.volumeId, (v) =>
      reserve(
        v,
        {
          attachmentId: attachmentIdOf(c.instanceId, bv.volumeId),
          instanceId: c.instanceId,
          host: d.host,
          device: root.device,
          bootIndex: 0,
          deleteOnTermination: root.deleteOnTermination,
        },
        d.clock.now(),
      ),
    );
    if (!reserved.ok) return reserved.refusal ? refusedBy(reserved.refusal) : notFound(bv.volumeId);
    await point('reserved');
    const complete = await changeVolume(d.volumes, bv.volumeId, (v) => attached(v, c.instanceId, d.clock.now()));
    if (!complete.ok) return complete.refusal ? refusedBy(complete.refusal) : notFound(bv.volumeId);
    await point('attached');
    return done();
  };
}

/**
 * The host audit's volume part (docs/volumes.md, docs/audit.md): every attachment this host made
 * whose instance is deleted or unknown is released (and its volume deleted when it was to go with
 * the instance), once a second run finds it too (`repairNow`).
 */
export async function healAttachments(
  d: VolumeStepDeps,
  instances: RecordBucket<InstanceRecord>,
  confirmed?: ReadonlySet<string>,
): Promise<{ found: AuditFinding[]; repaired: AuditFinding[] }> {
  const found: AuditFinding[] = [];
  const repaired: AuditFinding[] = [];
  for (const { value: v } of await d.volumes.entries()) {
    for (const a of v.attachments.filter((x) => x.host === d.host)) {
      const f = leakedAttachment(v, a.instanceId, (await instances.get(a.instanceId))?.value);
      if (!f) continue;
      found.push(f);
      if (!repairNow(f, confirmed)) continue;
      await releaseVolumes(d, {
        instanceId: a.instanceId,
        blockDevices: [{ volumeId: v.volumeId, device: a.device, deleteOnTermination: a.deleteOnTermination }],
      });
      repaired.push(f);
    }
  }
  return { found, repaired };
}

/** What a live migration's volume steps need (move-kit.ts gives them). */
export type LiveVolumeDeps = Pick<VolumeStepDeps, 'host' | 'driver' | 'volumes' | 'clock' | 'killPoint'> & {
  readonly log?: (line: string, err?: unknown) => void;
};

/**
 * Before a live migration's copy (Nova's pre_live_migration): each volume of the instance gets a
 * second attachment, `attaching`, naming the destination (`moveAttachmentIdOf`); the source's stays
 * as it is. A re-run finds its own. A volume gone meanwhile is skipped and logged; a refusal (the
 * volume in a state that takes no attachment) fails the step, and its rollback drops what was made.
 */
export async function attachForDestination(
  d: LiveVolumeDeps,
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices'>,
  dest: string,
  migrationId: string,
): Promise<StepResult> {
  for (const b of blockDevicesOf(c)) {
    const attachmentId = moveAttachmentIdOf(c.instanceId, b.volumeId, migrationId);
    const out = await changeVolume(d.volumes, b.volumeId, (v) =>
      reserveMove(
        v,
        {
          attachmentId,
          instanceId: c.instanceId,
          host: dest,
          device: b.device,
          ...(b.bootIndex === 0 ? { bootIndex: 0 as const } : {}),
          deleteOnTermination: b.deleteOnTermination,
        },
        d.clock.now(),
      ),
    );
    if (!out.ok && out.refusal) return refusedBy(out.refusal);
    if (!out.ok) d.log?.(`volumes of ${c.instanceId}: ${b.volumeId} is gone, not attached on ${dest}`);
    const point = { instanceId: c.instanceId, volumeId: b.volumeId, step: 'liveMigrate', status: 'attaching' };
    await d.killPoint?.('volume.changed', point);
  }
  return done();
}

/**
 * A live migration's post step on its destination (`d.host`): each destination attachment completed
 * (Nova's attachment_complete) and each volume but the root connected to the guest here. A migration
 * begun before attachments were doubled has none: its one attachment is moved here instead. A
 * volume gone or released meanwhile is skipped and logged. Idempotent, as attachVolumesTo.
 */
export async function completeVolumesHere(
  d: LiveVolumeDeps,
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices'>,
  migrationId: string,
  signal: AbortSignal,
): Promise<void> {
  for (const b of blockDevicesOf(c)) {
    const id = moveAttachmentIdOf(c.instanceId, b.volumeId, migrationId);
    let out = await changeVolume(d.volumes, b.volumeId, (v) => completeMove(v, id, d.clock.now()));
    if (!out.ok && out.refusal?.code === 'VolumeNotAttached')
      out = await changeVolume(d.volumes, b.volumeId, (v) => rehost(v, c.instanceId, d.host, d.clock.now()));
    if (!out.ok) {
      d.log?.(`volumes of ${c.instanceId}: ${b.volumeId} not attached on ${d.host}: ${out.refusal?.message ?? 'gone'}`);
      continue;
    }
    const point = { instanceId: c.instanceId, volumeId: b.volumeId, step: 'postLiveMigration', status: 'attached' };
    await d.killPoint?.('volume.changed', point);
    if (b.bootIndex === 0 || !d.driver.attachVolume) continue;
    const v = out.volume;
    await d.driver.attachVolume(
      c.instanceId,
      { volumeId: v.volumeId, path: v.path, format: v.format, device: b.device },
      { signal },
    );
  }
}

/**
 * The end of a live migration that succeeded, once the source's guest is gone (Nova's
 * _post_live_migration: attachment_delete of the old attachment): only the destination's
 * attachment of each volume is left. Never the last one: with no destination attachment
 * (a migration begun before they were doubled) nothing is dropped.
 */
export async function dropSourceAttachments(
  d: LiveVolumeDeps,
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices'>,
  migrationId: string,
): Promise<void> {
  for (const b of blockDevicesOf(c)) {
    const id = moveAttachmentIdOf(c.instanceId, b.volumeId, migrationId);
    await changeVolume(d.volumes, b.volumeId, (v) => keepOnly(v, c.instanceId, id, d.clock.now()));
    const point = { instanceId: c.instanceId, volumeId: b.volumeId, step: 'postLiveMigration', status: 'settled' };
    await d.killPoint?.('volume.changed', point);
  }
}

/**
 * A live migration rolled back (Nova's _rollback_live_migration: attachment_delete of the new
 * attachment, the BDM's old one restored): each destination attachment goes; the source's, never
 * touched by the migration, is the instance's one again. None left is unchanged.
 */
export async function dropDestinationAttachments(
  d: LiveVolumeDeps,
  c: Pick<InstanceContext, 'instanceId' | 'blockDevices'>,
  migrationId: string,
): Promise<void> {
  for (const b of blockDevicesOf(c)) {
    const id = moveAttachmentIdOf(c.instanceId, b.volumeId, migrationId);
    await changeVolume(d.volumes, b.volumeId, (v) => dropAttachment(v, id, d.clock.now()));
    const point = { instanceId: c.instanceId, volumeId: b.volumeId, step: 'moveRollback', status: 'dropped' };
    await d.killPoint?.('volume.changed', point);
  }
}
