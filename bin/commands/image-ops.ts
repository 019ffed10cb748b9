/**
 * Shelving and images: `shelve`, `shelve-offload`, `unshelve [--host]`, `snapshot --name`
 * (each with `--wait`), and `images`, the project's image registry.
 */
import type { Command } from 'commander';
import type { ImageRecord } from '../../protocol/index.js';
import { UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { sendCommand } from '../client/wait.js';
import { table } from '../table.js';
import { timeoutMs, withWait, type WaitOptions } from './instance-ops.js';

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
      const run = {
        instanceId: tokenArg('the instance id', id),
        action: 'unshelve',
        body,
        wait: !!o.wait,
        timeoutMs: timeoutMs(o),
      } as const;
      return (c) => sendCommand(c, run);
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
      const run = {
        instanceId: tokenArg('the instance id', id),
        action: 'snapshot',
        body: { name: o.name },
        wait: !!o.wait,
        timeoutMs: timeoutMs(o),
      } as const;
      return (c) => sendCommand(c, run);
    }),
  );

  withClientOptions(
    program
      .command('images')
      .description("the project's images: snapshots and shelved images, oldest first")
      .option('--instance <id>', 'only those of this instance'),
  ).action((o: ClientOptions & { instance?: string }) =>
    runClient(o, () => {
      const body = o.instance === undefined ? {} : { instanceId: tokenArg('--instance', o.instance) };
      return async (c) => {
        const r = await c.query<{ images: ImageRecord[] }>('images.list', body);
        if (c.json) return r;
        return table(
          ['ID', 'NAME', 'INSTANCE', 'KIND', 'STATUS', 'SIZE GB', 'CREATED'],
          r.images.map((i) => [
            i.imageId,
            i.name,
            i.instanceId,
            i.kind,
            i.status,
            (i.sizeBytes / 2 ** 30).toFixed(1),
            new Date(i.createdAt).toISOString(),
          ]),
        );
      };
    }),
  );
}
