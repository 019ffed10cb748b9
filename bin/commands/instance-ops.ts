/**
 * Mutating instance commands: `boot`, `delete`, `stop`, `start`, `reboot`, `pause`,
 * `unpause`, `suspend`, `resume`, `rename`. Each publishes one command; `--wait` follows it to its
 * terminal event (bin/client/wait.ts) and exits 0 on success, 1 otherwise.
 */
import { bootMapping, type BootVolumeFlags } from './volume-ops.js';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { InstanceAction } from '../../protocol/index.js';
import { inSeconds, intFlag, UsageError } from '../options.js';
import { SECOND_MS } from '../../actors/runtime/index.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { DEFAULT_WAIT_TIMEOUT_MS, sendCommand } from '../client/wait.js';
import { bootNetworksOf } from './network-ops.js';

/** The flags of a command that can wait for its outcome. */
export interface WaitOptions extends ClientOptions {
  wait?: boolean;
  timeout: string;
}

/** Adds the client flags and `--wait` / `--timeout SECONDS`. */
export function withWait(cmd: Command): Command {
  return withClientOptions(cmd)
    .option('--wait', 'follow the command to its outcome: exit 0 on success, 1 on failure')
    .option('--timeout <seconds>', 'with --wait: give up after this long (exit 1)', inSeconds(DEFAULT_WAIT_TIMEOUT_MS));
}

/** `--timeout` in ms (1 s to 1 day), or a usage error. */
export const timeoutMs = (o: WaitOptions) => intFlag('--timeout', o.timeout, 1, 86_400) * SECOND_MS;

/**
 * What a command line of one instance action runs: the instance id checked, then the command
 * sent (and followed with `--wait`). Called inside `runClient`, so a bad id is a usage error.
 */
export function instanceCommand(
  o: WaitOptions,
  instance: string,
  action: InstanceAction,
  body: Record<string, unknown>,
) {
  const run = {
    instanceId: tokenArg('the instance id', instance),
    action,
    body,
    wait: !!o.wait,
    timeoutMs: timeoutMs(o),
  } as const;
  return (c: Parameters<typeof sendCommand>[0]) => sendCommand(c, run);
}

/** Power and lifecycle actions that take an instance id and an empty body. */
const SIMPLE: readonly [InstanceAction, string][] = [
  ['delete', 'delete an instance'],
  ['stop', 'power an instance off'],
  ['start', 'power a stopped instance on'],
  ['pause', 'pause an instance (its memory stays on the host)'],
  ['unpause', 'unpause a paused instance'],
  ['suspend', 'suspend an instance (its memory is saved to disk)'],
  ['resume', 'resume a suspended instance'],
  ['force_delete', 'delete a soft-deleted instance at once, without waiting for the reclaim'],
  ['restore', 'bring back a soft-deleted instance (hosts with a reclaim interval keep deleted instances for a while)'],
  ['rescue', 'boot an instance from a rescue image'],
  ['unrescue', 'boot a rescued instance from its own disk again'],
  [
    'trigger_crash_dump',
    'send the guest an NMI: it writes a crash dump if its OS is set up to (Nova trigger-crash-dump)',
  ],
  ['lock', 'lock an instance: non-admin commands are refused'],
  ['unlock', 'unlock an instance'],
];

const collect = (v: string, all: string[]): string[] => [...all, v];

export function registerInstanceOps(program: Command): void {
  withWait(
    program
      .command('boot <name>')
      .description('boot a new instance; prints its id and the command id')
      .requiredOption('--flavor <name>', 'a flavor name (see `novactor flavors`)')
      .option('--image <ref>', 'the image to boot from')
      .option('--host <host>', 'admin only: force the compute host')
      .option('--group <id>', 'a server group of the project: placed under its policy (`novactor server-group`)')
      .option('--availability-zone <zone>', 'only hosts of this zone (`novactor availability-zones`); moves keep it')
      .option(
        '--network <id|auto|none>',
        'a port on this network (auto: the only one; none: no port); repeatable',
        collect,
        [],
      )
      .option(
        '--port <id>',
        'a port of the project, bound to the instance (kept when it is deleted); repeatable',
        collect,
        [],
      )
      .option('--fixed-ip <net=ID,ip=IP>', 'a port on network ID with address IP; repeatable', collect, [])
      .option('--id <uuid>', 'the instance id to use (default: a new UUID)')
      .option('--boot-volume <id>', 'boot from this volume of the project (its root disk)')
      .option('--boot-from-image-volume <gb>', 'boot from a new volume of this size made for --image')
      .option('--delete-on-termination', 'with a boot volume: delete it with the instance'),
  ).action(
    (
      name: string,
      o: WaitOptions & {
        flavor: string;
        image?: string;
        host?: string;
        group?: string;
        availabilityZone?: string;
        network: string[];
        port: string[];
        fixedIp: string[];
        id?: string;
      } & BootVolumeFlags,
    ) =>
      runClient(o, () => {
        const instanceId = o.id === undefined ? randomUUID() : tokenArg('--id', o.id);
        if (name.length === 0 || name.length > 255) throw new UsageError('the instance name must be 1-255 characters');
        const networks = bootNetworksOf(o);
        const body = {
          name,
          flavor: o.flavor,
          ...(o.image ? { image: o.image } : {}),
          ...(o.host ? { host: tokenArg('--host', o.host) } : {}),
          ...(o.group ? { schedulerHints: { group: tokenArg('--group', o.group) } } : {}),
          ...(o.availabilityZone ? { availabilityZone: o.availabilityZone } : {}),
          ...(networks !== undefined ? { networks } : {}),
          ...bootMapping(o),
        };
        const run = { instanceId, action: 'boot', body, wait: !!o.wait, timeoutMs: timeoutMs(o) } as const;
        return (c) => sendCommand(c, run);
      }),
  );

  for (const [action, description] of SIMPLE) {
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
      .command('reboot <id>')
      .description('reboot an instance (soft unless --hard)')
      .option('--hard', 'a hard reboot (power cycle)'),
  ).action((id: string, o: WaitOptions & { hard?: boolean }) =>
    runClient(o, () => {
      return instanceCommand(o, id, 'reboot', { type: o.hard ? 'HARD' : 'SOFT' });
    }),
  );

  withWait(program.command('rename <id> <name>').description("change an instance's name (any state)")).action(
    (id: string, name: string, o: WaitOptions) =>
      runClient(o, () => {
        if (name.length === 0 || name.length > 255) throw new UsageError('the name must be 1-255 characters');
        const run = {
          instanceId: tokenArg('the instance id', id),
          action: 'rename',
          body: { name },
          wait: !!o.wait,
          timeoutMs: timeoutMs(o),
        } as const;
        return (c) => sendCommand(c, run);
      }),
  );
}
