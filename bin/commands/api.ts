/**
 * `novactor api`: the HTTP face (docs/http-api.md) in this process — OpenStack's HTTP APIs
 * translated to the NATS protocol. Stateless: any number may run, each its own listener.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import {
  behindIdentity,
  computeApi,
  dashboardApi,
  DEFAULT_TOKEN_TTL_MS,
  identityApi,
  imageApi,
  placementApi,
  startHttpApi,
  Tokens,
} from '../../actors/http/index.js';
import { SECOND_MS } from '../../actors/runtime/index.js';
import {
  inSeconds,
  intFlag,
  replicasFlag,
  serverUrls,
  UsageError,
  withReplicasOption,
  withServerOptions,
  type ServerOptions,
} from '../options.js';
import { processName, runRole } from '../role.js';

export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8774';

interface ApiCommandOptions extends ServerOptions {
  name?: string;
  listen: string;
  replicas: string;
  secure?: boolean;
  tokenTtl: string;
}

/** `HOST:PORT` (an IPv6 host in brackets) as its parts; a usage error otherwise. */
export function listenFlag(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65_535) throw new UsageError(`${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function registerApi(program: Command): void {
  withServerOptions(
    withReplicasOption(
      program
        .command('api')
        .description(
          'serve the HTTP APIs (Identity, Compute, Image, Placement; docs/http-api.md) and the dashboard at / ' +
            'over NATS; any number may run',
        )
        .option('--name <name>', 'this process in ctl subjects (default api-<host>-<pid>)')
        .option('--listen <host:port>', 'where to listen', DEFAULT_HTTP_LISTEN)
        .option(
          '--secure',
          "Identity's users are the NATS users (DIR/creds): a password is checked by the NATS server, and each " +
            'token acts over its own connection as that user (without it: development mode, any password)',
        )
        .option('--token-ttl <seconds>', 'how long an Identity token lives', inSeconds(DEFAULT_TOKEN_TTL_MS)),
    ),
  ).action(async (o: ApiCommandOptions) => {
    const name = processName(o.name ?? `api-${hostname()}-${process.pid}`);
    let listen!: { host: string; port: number };
    let ttlMs!: number;
    await runRole(o, {
      role: 'api',
      name,
      replicas: () => replicasFlag(o.replicas),
      prepare: () => {
        listen = listenFlag('--listen', o.listen);
        ttlMs = intFlag('--token-ttl', o.tokenTtl, 1, 7 * 86_400) * SECOND_MS;
      },
      start: async ({ lifecycle, nc, ids, log, clock }) => {
        const tokens = new Tokens({
          nc,
          clock,
          ids,
          ttlMs,
          ...(o.secure ? { secureServers: serverUrls(o) } : {}),
        });
        lifecycle.onStop('identity connections', () => tokens.stop());
        const apis = [
          identityApi(tokens),
          computeApi(tokens),
          imageApi(tokens, { clock, ids }),
          behindIdentity(placementApi({ nc }), tokens),
          dashboardApi(tokens, { clock }),
        ];
        const http = await startHttpApi({ ...listen, ids, log, apis });
        lifecycle.onStop('http listener', () => http.stop());
        log(`api ${name}: listening on ${http.url}`);
      },
      readyLine: `api ${name} ready`,
    });
  });
}
