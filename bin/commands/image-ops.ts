/**
 * Shelving and images: `shelve`, `shelve-offload`, `unshelve [--host]`, `snapshot --name`
 * (each with `--wait`), `images`, the project's image registry, and a user's own images:
 * `image create NAME --file F`, `image delete ID`.
 */
import type { Command } from 'commander';
import type { ImageRecord } from '../../protocol/index.js';
import { collect, properties, UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { sendCommand } from '../client/wait.js';
import { uploadImage } from '../client/image-upload.js';
import { table } from '../table.js';
import { instanceCommand, timeoutMs, withWait, type WaitOptions } from './instance-ops.js';

export function registerImageOps(program: Command): void {
  const simple = [
    [
      'shelve',
      'shelve an instance: power it off and save it to an image (hosts with shelved_offload_time 0 offload it at once)',
    ],
    ['shelve_offload', 'offload a shelved instance: its guest is destroyed and it holds no host and no resources'],
  ] as const;
  for (const [action, description] of simple) {
    withWait(program.command(`${action.replace(/_/g, '-')} <id>`).description(description)).action(
      (id: string, o: WaitOptions) =>
        runClient(o, () => {
          const run = {
            instanceId: tokenArg('the instance id', id),
            action,
            body: {},
            wait: !!o.wait,
            timeoutMs: timeoutMs(o),
          };
          return (c) => sendCommand(c, run);
        }),
    );
  }

  withWait(
    program
      .command('unshelve <id>')
      .description('unshelve an instance: start it where it is, or schedule an offloaded one again')
      .option('--host <host>', 'admin only: the host for an offloaded instance'),
  ).action((id: string, o: WaitOptions & { host?: string }) =>
    runClient(o, () => {
      const body = o.host === undefined ? {} : { host: tokenArg('--host', o.host) };
      return instanceCommand(o, id, 'unshelve', body);
    }),
  );

  withWait(
    program
      .command('snapshot <id>')
      .description('save an image of an instance (its state does not change); see `novactor images`')
      .requiredOption('--name <name>', 'the image name'),
  ).action((id: string, o: WaitOptions & { name: string }) =>
    runClient(o, () => {
      if (o.name.length === 0 || o.name.length > 255) throw new UsageError('the image name must be 1-255 characters');
      return instanceCommand(o, id, 'snapshot', { name: o.name });
    }),
  );

  const image = program.command('image').description("a user's own images: upload one, delete one");
  withClientOptions(
    image
      .command('create <name>')
      .description('upload a disk image (qcow2 or raw) to boot instances from: `boot --image <its id>`')
      .requiredOption('--file <path>', 'the disk image file')
      .option('--disk-format <format>', 'qcow2 or raw (default: what the file looks like)')
      .option(
        '--property <key=value>',
        'an image property: hw_architecture=x86_64, trait:CUSTOM_X=required (docs/scheduling.md), any other kept; ' +
          'repeatable',
        collect,
        [],
      ),
  ).action((name: string, o: ClientOptions & { file: string; diskFormat?: string; property: string[] }) =>
    runClient(o, () => {
      if (name.length === 0 || name.length > 255) throw new UsageError('the image name must be 1-255 characters');
      if (o.diskFormat !== undefined && o.diskFormat !== 'qcow2' && o.diskFormat !== 'raw')
        throw new UsageError(`--disk-format must be qcow2 or raw, got ${JSON.stringify(o.diskFormat)}`);
      const diskFormat = o.diskFormat;
      const props = properties(o.property, 'image create');
      return async (c) => {
        const done = await uploadImage(c, {
          name,
          file: o.file,
          ...(diskFormat ? { diskFormat } : {}),
          ...(Object.keys(props).length > 0 ? { properties: props } : {}),
          say: (line) => process.stderr.write(`${line}\n`),
        });
        return c.json ? { image: done } : imageTable([done]);
      };
    }),
  );
  withClientOptions(
    image.command('delete <id>').description("delete one of the project's images (not a shelved instance's)"),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const imageId = tokenArg('the image id', id);
      return async (c) => {
        await c.image('delete', { imageId });
        return c.json ? {} : `deleted image ${imageId}`;
      };
    }),
  );

  withClientOptions(
    program
      .command('images')
      .description("the project's images: uploads, snapshots and shelved images, oldest first")
      .option('--instance <id>', 'only those of this instance'),
  ).action((o: ClientOptions & { instance?: string }) =>
    runClient(o, () => {
      const body = o.instance === undefined ? {} : { instanceId: tokenArg('--instance', o.instance) };
      return async (c) => {
        const r = await c.query<{ images: ImageRecord[] }>('images.list', body);
        return c.json ? r : imageTable(r.images);
      };
    }),
  );
}

function imageTable(images: readonly ImageRecord[]): string {
  return table(
    ['ID', 'NAME', 'INSTANCE', 'KIND', 'STATUS', 'SIZE GB', 'CREATED', 'PROPERTIES'],
    images.map((i) => [
      i.imageId,
      i.name,
      i.instanceId ?? '-',
      i.kind,
      i.status,
      (i.sizeBytes / 2 ** 30).toFixed(1),
      new Date(i.createdAt).toISOString(),
      Object.entries(i.properties ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '-',
    ]),
  );
}
