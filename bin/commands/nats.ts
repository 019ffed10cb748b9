/**
 * NATS cluster maintenance (docs/operations.md, "Losing a NATS node"):
 * `nats replicas [--wait S]` shows every stream's replicas and exits 1 unless each is online
 * and current; `nats remove-peer <server>` removes a lost server from the cluster, with the
 * system account's credentials, so that its replicas move to the node that replaces it.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  followerState,
  removeServer,
  replicaProblems,
  streamReplicas,
  untilReplicasCurrent,
  type StreamReplicas,
} from '../../actors/runtime/index.js';
import { connectFor, intFlag, withServerOptions, type ServerOptions } from '../options.js';
import { reportFailure } from '../failure.js';
import { table } from '../table.js';

const MAX_WAIT_S = 3600;

export function registerNats(program: Command): void {
  const nats = program.command('nats').description('NATS cluster maintenance: replicas, replacing a lost node');
  withServerOptions(
    nats
      .command('replicas')
      .description("every stream's replicas; exit 1 unless each is online and current")
      .option('--wait <seconds>', 'wait up to this long for every replica to be current', '0'),
  )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action((o: ServerOptions & { wait: string }) =>
      withConnection(o, 'novactor nats replicas', async (nc) => {
        const waitS = intFlag('--wait', o.wait, 0, MAX_WAIT_S);
        if (waitS > 0) await untilReplicasCurrent(nc, waitS * 1000).catch(() => undefined);
        const streams = await streamReplicas(nc);
        const whole = streams.every((s) => replicaProblems(s).length === 0);
        process.stdout.write(o.json ? JSON.stringify({ whole, streams }, null, 2) + '\n' : render(streams, whole));
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

function render(streams: StreamReplicas[], whole: boolean): string {
  const rows = streams.map((s) => {
    const problems = replicaProblems(s);
    const followers = s.followers.map((f) => {
      const state = followerState(f);
      return state === 'ok' ? f.name : `${f.name} (${state})`;
    });
    return [s.stream, String(s.replicas), s.leader ?? '-', followers.join(', ') || '-', problems.join('; ') || 'ok'];
  });
  return (
    table(['STREAM', 'REPLICAS', 'LEADER', 'FOLLOWERS', 'STATE'], rows) +
    (whole ? 'every replica online and current\n' : 'some replicas are not current\n')
  );
}
