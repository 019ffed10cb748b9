/**
 * Volumes (docs/volumes.md): `volume create NAME --size GB [--multiattach]`, `volume list`,
 * `volume show ID`, `volume delete ID`, `volume extend ID --size GB`; and the instance commands
 * `attach-volume INSTANCE VOLUME [--delete-on-termination]`, `detach-volume INSTANCE VOLUME` (with `--wait`).
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { MAX_VOLUME_GB, type VolumeView } from '../../protocol/index.js';
import { intFlag, UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { table } from '../table.js';
import { instanceCommand, withWait, type WaitOptions } from './instance-ops.js';

const sizeOf = (v: string) => intFlag('--size', v, 1, MAX_VOLUME_GB);

export function registerVolumeOps(program: Command): void {
  registerAttachments(program);
  const volume = program.command('volume').description('volumes: disks that outlive instances (attach-volume)');
  withClientOptions(
    volume
      .command('create <name>')
      .description('create an empty volume of --size GB')
      .requiredOption('--size <gb>', `its size in GB (1-${MAX_VOLUME_GB})`)
      .option('--multiattach', 'may be attached to several instances at once'),
  ).action((name: string, o: ClientOptions & { size: string; multiattach?: boolean }) =>
    runClient(o, () => {
      if (name.length === 0 || name.length > 255) throw new UsageError('the volume name must be 1-255 characters');
      const sizeGb = sizeOf(o.size);
      // One request id for every retry: a create sent again makes one volume.
      const id = randomUUID();
      return async (c) => {
        const r = await c.volume<{ volume: VolumeView }>(
          'create',
          { name, sizeGb, ...(o.multiattach ? { multiattach: true } : {}) },
          id,
        );
        return c.json ? r : volumeTable([r.volume]);
      };
    }),
  );
  withClientOptions(volume.command('list').description("the project's volumes")).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const r = await c.volume<{ volumes: VolumeView[] }>('list', {});
      return c.json ? r : volumeTable(r.volumes);
    }),
  );
  withClientOptions(volume.command('show <id>').description('one volume and its attachments')).action(
    (id: string, o: ClientOptions) =>
      runClient(o, () => {
        const volumeId = tokenArg('the volume id', id);
        return async (c) => {
          const r = await c.volume<{ volume: VolumeView }>('show', { volumeId });
          return c.json ? r : volumeTable([r.volume]);
        };
      }),
  );
  withClientOptions(volume.command('delete <id>').description('delete a volume (refused while attached)')).action(
    (id: string, o: ClientOptions) =>
      runClient(o, () => {
        const volumeId = tokenArg('the volume id', id);
        return async (c) => {
          await c.volume('delete', { volumeId });
          return c.json ? {} : `deleted volume ${volumeId}`;
        };
      }),
  );
  withClientOptions(
    volume
      .command('extend <id>')
      .description('grow an available volume to --size GB')
      .requiredOption('--size <gb>', 'its new size in GB (more than now)'),
  ).action((id: string, o: ClientOptions & { size: string }) =>
    runClient(o, () => {
      const volumeId = tokenArg('the volume id', id);
      const sizeGb = sizeOf(o.size);
      return async (c) => {
        const r = await c.volume<{ volume: VolumeView }>('extend', { volumeId, sizeGb });
        return c.json ? r : volumeTable([r.volume]);
      };
    }),
  );
}

export interface BootVolumeFlags {
  readonly image?: string;
  readonly bootVolume?: string;
  readonly bootFromImageVolume?: string;
  readonly deleteOnTermination?: boolean;
}

/** A boot's `blockDeviceMapping` from its flags (`boot --boot-volume ID | --boot-from-image-volume GB`). */
export function bootMapping(o: BootVolumeFlags): { blockDeviceMapping?: Record<string, unknown>[] } {
  if (o.bootVolume !== undefined && o.bootFromImageVolume !== undefined)
    throw new UsageError('--boot-volume and --boot-from-image-volume exclude each other');
  const dot = o.deleteOnTermination ? { deleteOnTermination: true } : {};
  if (o.bootVolume !== undefined) {
    const uuid = tokenArg('--boot-volume', o.bootVolume);
    return {
      blockDeviceMapping: [{ sourceType: 'volume', destinationType: 'volume', uuid, bootIndex: 0, ...dot }],
    };
  }
  if (o.bootFromImageVolume !== undefined) {
    if (o.image === undefined) throw new UsageError('--boot-from-image-volume needs --image');
    const volumeSize = sizeOf(o.bootFromImageVolume);
    return {
      blockDeviceMapping: [{ sourceType: 'image', destinationType: 'volume', volumeSize, bootIndex: 0, ...dot }],
    };
  }
  if (o.deleteOnTermination) throw new UsageError('--delete-on-termination needs a boot volume');
  return {};
}

function registerAttachments(program: Command): void {
  withWait(
    program
      .command('attach-volume <instance> <volume>')
      .description('attach a volume to an instance (active, paused or stopped); its device is the next free vdb, vdc…')
      .option('--delete-on-termination', 'delete the volume when the instance is deleted'),
  ).action((instance: string, volume: string, o: WaitOptions & { deleteOnTermination?: boolean }) =>
    runClient(o, () =>
      instanceCommand(o, instance, 'volume_attach', {
        volumeId: tokenArg('the volume id', volume),
        ...(o.deleteOnTermination ? { deleteOnTermination: true } : {}),
      }),
    ),
  );
  withWait(program.command('detach-volume <instance> <volume>').description('detach a volume from an instance')).action(
    (instance: string, volume: string, o: WaitOptions) =>
      runClient(o, () =>
        instanceCommand(o, instance, 'volume_detach', { volumeId: tokenArg('the volume id', volume) }),
      ),
  );
}

export function volumeTable(volumes: readonly VolumeView[]): string {
  return table(
    ['ID', 'NAME', 'SIZE', 'STATUS', 'MULTIATTACH', 'ATTACHED TO'],
    volumes.map((v) => [
      v.id,
      v.name,
      `${v.sizeGb} GB`,
      v.status,
      v.multiattach ? 'yes' : 'no',
      v.attachments.length === 0 ? '-' : v.attachments.map((a) => `${a.instanceId} on ${a.device}`).join(','),
    ]),
  );
}
