/**
 * NATS cluster maintenance (docs/operations.md, "Losing a NATS node"):
 * `nats replicas [--wait S] [--system-creds F]` shows every stream's replicas and exits 1 unless
 * each is online and current (and, with the system account's credentials, every server's copy
 * agrees with the others'); `nats remove-peer <server>` removes a lost server from the cluster, with the
 * system account's credentials, so that its replicas move to the node that replaces it.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  connectNats,
  disagreeingCopies,
  followerState,
  removeServer,
  replicaProblems,
  streamCopies,
  streamReplicas,
  untilCopiesAgree,
  untilReplicasCurrent,
  type StreamReplicas,
} from '../../actors/runtime/index.js';
import { connectFor, intFlag, readCreds, serverUrls, withServerOptions, type ServerOptions } from '../options.js';
import { reportFailure } from '../failure.js';
import { table } from '../table.js';

const MAX_WAIT_S = 3600;

export function registerNats(program: Command): void {
  const nats = program.command('nats').description('NATS cluster maintenance: replicas, replacing a lost node');
  withServerOptions(
    nats
      .command('replicas')
      .description("every stream's replicas; exit 1 unless each is online and current")
      .option('--wait <seconds>', 'wait up to this long for every replica to be current', '0')
      .option(
        '--system-creds <file>',
        "the system account's credentials: also compare every server's own copy of each stream",
      ),
  )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action((o: ServerOptions & { wait: string; systemCreds?: string }) =>
      withConnection(o, 'novactor nats replicas', async (nc) => {
        const waitS = intFlag('--wait', o.wait, 0, MAX_WAIT_S);
        const sysCreds = o.systemCreds ? readCreds(o.systemCreds) : undefined;
        const deadline = Date.now() + waitS * 1000;
        if (waitS > 0) await untilReplicasCurrent(nc, waitS * 1000).catch(() => undefined);
        const streams = await streamReplicas(nc);
        const current = streams.every((s) => replicaProblems(s).length === 0);
        let differ: Map<string, string> | undefined;
        if (sysCreds) {
          const sys = await connectNats({
            servers: serverUrls(o),
            name: 'novactor-nats-replicas-sys',
            user: sysCreds.user,
            pass: sysCreds.password,
          });
          try {
            const left = deadline - Date.now();
            if (left > 0) await untilCopiesAgree(sys, left).catch(() => undefined);
            differ = disagreeingCopies(await streamCopies(sys));
          } finally {
            await sys.close().catch(() => undefined);
          }
        }
        const whole = current && (differ === undefined || differ.size === 0);
        process.stdout.write(
          o.json
            ? JSON.stringify(
                { whole, streams, ...(differ ? { copiesDiffer: Object.fromEntries(differ) } : {}) },
                null,
                2,
              ) + '\n'
            : render(streams, current, differ),
        );
        return whole ? 0 : 1;
      }),
    );
  withServerOptions(
    nats
      .command('remove-peer')
      .argument('<server>', 'the server_name of the lost node')
      .description('remove a lost server from the JetStream cluster (--creds of the system account)'),
  )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action((server: string, o: ServerOptions) =>
      withConnection(o, 'novactor nats remove-peer', async (nc) => {
        await removeServer(nc, server);
        process.stdout.write(
          o.json
            ? JSON.stringify({ removed: server }) + '\n'
            : `removed ${server}; its replicas move to the other servers (novactor nats replicas --wait 120)\n`,
        );
        return 0;
      }),
    );
}

async function withConnection(
  o: ServerOptions,
  who: string,
  run: (nc: NatsConnection) => Promise<0 | 1>,
): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connectFor(o, who.replace(/ /g, '-'));
    process.exitCode = await run(nc);
  } catch (err) {
    reportFailure(who, err);
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

function render(streams: StreamReplicas[], current: boolean, differ: Map<string, string> | undefined): string {
  const rows = streams.map((s) => {
    const problems = replicaProblems(s);
    const followers = s.followers.map((f) => {
      const state = followerState(f);
      return state === 'ok' ? f.name : `${f.name} (${state})`;
    });
    return [s.stream, String(s.replicas), s.leader ?? '-', followers.join(', ') || '-', problems.join('; ') || 'ok'];
  });
  const copies =
    differ === undefined
      ? ''
      : differ.size === 0
        ? "every server's copy of every stream agrees\n"
        : [...differ].map(([stream, what]) => `copies differ: ${stream}: ${what}\n`).join('') +
          'a copy that keeps differing has holes: replace its server (docs/operations.md)\n';
  return (
    table(['STREAM', 'REPLICAS', 'LEADER', 'FOLLOWERS', 'STATE'], rows) +
    (current ? 'every replica online and current\n' : 'some replicas are not current\n') +
    copies
  );
}
