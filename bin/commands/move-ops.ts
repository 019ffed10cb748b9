/**
 * Moving an instance: `resize`, `confirm`, `revert`, `migrate` (each one command, with
 * `--wait` through bin/client/wait.ts), and `migrations`, the project's migration records.
 */
import type { Command } from 'commander';
import type { InstanceAction, InstanceActionView, MigrationRecord } from '../../protocol/index.js';
import { UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { sendCommand } from '../client/wait.js';
import { table } from '../table.js';
import { instanceCommand, timeoutMs, withWait, type WaitOptions } from './instance-ops.js';

/** Confirm and revert: an instance id and an empty body. */
const ENDINGS: readonly [string, InstanceAction, string][] = [
  [
    'confirm',
    'confirm_resize',
    'confirm a resize or migration: the instance stays where it is now, the old side is freed',
  ],
  ['revert', 'revert_resize', 'revert a resize or migration: the instance goes back to its old host and flavor'],
];

export function registerMoveOps(program: Command): void {
  withWait(
    program
      .command('resize <id> <flavor>')
      .description('resize an instance to another flavor; it ends RESIZED until confirm or revert'),
  ).action((id: string, flavor: string, o: WaitOptions) =>
    runClient(o, () => {
      if (flavor.length === 0 || flavor.length > 255) throw new UsageError('the flavor name must be 1-255 characters');
      return instanceCommand(o, id, 'resize', { flavor });
    }),
  );

  withWait(
    program
      .command('rebuild <id>')
      .description('rebuild an instance on its host from a new image (its resources stay where they are)')
      .requiredOption('--image <image>', 'the image to rebuild from'),
  ).action((id: string, o: WaitOptions & { image: string }) =>
    runClient(o, () => {
      if (o.image.length === 0 || o.image.length > 255) throw new UsageError('the image must be 1-255 characters');
      return instanceCommand(o, id, 'rebuild', { image: o.image });
    }),
  );

  withWait(
    program
      .command('live-migrate <id>')
      .description('move a running or paused instance to another host while it runs')
      .option('--host <host>', 'the destination (admin; default: the scheduler picks)'),
  ).action((id: string, o: WaitOptions & { host?: string }) =>
    runClient(o, () => {
      return instanceCommand(o, id, 'live_migrate', o.host !== undefined ? { host: tokenArg('the host', o.host) } : {});
    }),
  );
  for (const [name, action, description] of [
    ['live-migrate-abort', 'live_migrate_abort', 'abort a running live migration: the instance stays where it was'],
    ['live-migrate-force-complete', 'live_migrate_force_complete', 'finish a running live migration now'],
  ] as const) {
    withWait(program.command(`${name} <id>`).description(description)).action((id: string, o: WaitOptions) =>
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
      .command('evacuate <id>')
      .description('rebuild an instance of a down host on another host (admin)')
      .option('--host <host>', 'the destination (default: the scheduler picks)'),
  ).action((id: string, o: WaitOptions & { host?: string }) =>
    runClient(o, () => {
      return instanceCommand(o, id, 'evacuate', o.host !== undefined ? { host: tokenArg('the host', o.host) } : {});
    }),
  );

  for (const [name, action, description] of ENDINGS) {
    withWait(program.command(`${name} <id>`).description(description)).action((id: string, o: WaitOptions) =>
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
      .command('migrate <id>')
      .description('cold-migrate an instance to another host (same flavor); it ends RESIZED until confirm or revert')
      .option('--host <host>', 'admin only: the destination host'),
  ).action((id: string, o: WaitOptions & { host?: string }) =>
    runClient(o, () => {
      const body = o.host === undefined ? {} : { host: tokenArg('--host', o.host) };
      return instanceCommand(o, id, 'migrate', body);
    }),
  );

  withClientOptions(
    program
      .command('migrations')
      .description("the project's resizes and migrations, oldest first")
      .option('--instance <id>', 'only those of this instance'),
  ).action((o: ClientOptions & { instance?: string }) =>
    runClient(o, () => {
      const body = o.instance === undefined ? {} : { instanceId: tokenArg('--instance', o.instance) };
      return async (c) => {
        const r = await c.query<{ migrations: MigrationRecord[] }>('migrations.list', body);
        if (c.json) return r;
        return table(
          ['ID', 'INSTANCE', 'KIND', 'STATUS', 'SOURCE', 'DEST', 'OLD FLAVOR', 'NEW FLAVOR', 'UPDATED'],
          r.migrations.map((m) => [
            m.migrationId,
            m.instanceId,
            m.kind,
            m.status,
            m.sourceHost,
            m.destHost,
            m.oldFlavor.name,
            m.newFlavor.name,
            new Date(m.updatedAt).toISOString(),
          ]),
        );
      };
    }),
  );

  withClientOptions(
    program
      .command('actions <id>')
      .description("an instance's actions: every command on it, its result and events (openstack server event list)"),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const body = { instanceId: tokenArg('the instance id', id) };
      return async (c) => {
        const r = await c.query<{ actions: InstanceActionView[] }>('actions.list', body);
        if (c.json) return r;
        return table(
          ['ACTION', 'REQUEST ID', 'USER', 'START', 'FINISH', 'RESULT', 'FAULT'],
          r.actions.map((a) => [
            a.action,
            a.requestId,
            a.user,
            new Date(a.startTime).toISOString(),
            a.finishTime === null ? null : new Date(a.finishTime).toISOString(),
            a.result ?? 'running',
            a.fault ? `${a.fault.code}: ${a.fault.message}` : null,
          ]),
        );
      };
    }),
  );
}
