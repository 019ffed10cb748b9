/**
 * Operator reads of placement: `providers`, `usage`, `allocations`, `candidates`.
 * Tables for people, `--json` for scripts; a refusal prints Placement's status and code.
 */
import type { Command } from 'commander';
import { PlacementClient } from '../../actors/placement/index.js';
import { CallError } from '../../actors/runtime/index.js';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectFor, intFlag, serverUrls, UsageError, withServerOptions, type ServerOptions } from '../options.js';
import { failureOf, reportFailure, watchConnection } from '../failure.js';
import { table } from '../table.js';

const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

async function withClient(o: ServerOptions, run: (pc: PlacementClient) => Promise<string | object>): Promise<void> {
  let nc: NatsConnection;
  try {
    nc = await connectFor(o, 'novactor-cli');
  } catch (err) {
    process.stderr.write(
      `novactor: cannot connect to ${serverUrls(o).join(',')}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = failureOf(err).code;
    return;
  }
  const connection = watchConnection(nc);
  try {
    const out = await run(new PlacementClient({ nc, deadlineMs: 10_000 }));
    process.stdout.write(typeof out === 'string' ? out : JSON.stringify(out, null, 2) + '\n');
  } catch (err) {
    if (err instanceof CallError) {
      process.stderr.write(`placement: ${err.status} ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else reportFailure('novactor', err, connection.down);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** A provider named by uuid or by name (provider names equal host names). */
async function providerUuid(pc: PlacementClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { providers } = await pc.call('providers.list', { name: ref });
  if (!providers[0]) throw new UsageError(`no provider named ${ref}`);
  return providers[0].uuid;
}

/** `VCPU:1,MEMORY_MB:512` → `{ VCPU: 1, MEMORY_MB: 512 }`. */
export function parseResources(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of spec.split(',').filter(Boolean)) {
    const m = /^([A-Z0-9_]+):(\d+)$/.exec(part.trim());
    if (!m)
      throw new UsageError(`--resources wants CLASS:N pairs like VCPU:1,MEMORY_MB:512; got ${JSON.stringify(part)}`);
    out[m[1]!] = Number(m[2]);
  }
  if (Object.keys(out).length === 0) throw new UsageError('--resources needs at least one CLASS:N');
  return out;
}

export function registerPlacementReads(program: Command): void {
  withServerOptions(program.command('providers').description('list resource providers with their usage')).action(
    (o: ServerOptions) =>
      withClient(o, async (pc) => {
        const providers = await pc.allProviders();
        const rows = await Promise.all(
          providers.map(async (p) => {
            const [inv, use] = await Promise.all([
              pc.call('inventories.get', { provider: p.uuid }),
              pc.call('usages.get', { provider: p.uuid }),
            ]);
            return { ...p, inventories: inv.inventories, usages: use.usages };
          }),
        );
        if (o.json) return { providers: rows };
        const show = (r: (typeof rows)[number], rc: string) =>
          r.inventories[rc]
            ? `${r.usages[rc] ?? 0}/${Math.trunc((r.inventories[rc].total - r.inventories[rc].reserved) * r.inventories[rc].allocationRatio)}`
            : '-';
        return table(
          ['NAME', 'UUID', 'GEN', 'VCPU', 'MEMORY_MB', 'DISK_GB', 'PARENT'],
          rows.map((r) => [
            r.name,
            r.uuid,
            r.generation,
            show(r, 'VCPU'),
            show(r, 'MEMORY_MB'),
            show(r, 'DISK_GB'),
            r.parentProviderUuid,
          ]),
        );
      }),
  );

  withServerOptions(
    program
      .command('usage')
      .description('resource usage of one provider, or of a project')
      .option('--provider <name|uuid>', 'a provider (host name or uuid)')
      .option('--project <id>', 'a project: usage by consumer type')
      .option('--user <id>', 'with --project: only this user'),
  ).action((o: ServerOptions & { provider?: string; user?: string }) =>
    withClient(o, async (pc) => {
      if (!!o.provider === !!o.project) throw new UsageError('usage needs exactly one of --provider or --project');
      if (o.provider) {
        const u = await pc.call('usages.get', { provider: await providerUuid(pc, o.provider) });
        return o.json ? u : table(['CLASS', 'USED'], Object.entries(u.usages));
      }
      const u = await pc.call('usages.project', { project: o.project!, ...(o.user ? { user: o.user } : {}) });
      if (o.json) return u;
      return table(
        ['CONSUMER TYPE', 'CLASS', 'USED'],
        Object.entries(u.usages).flatMap(([type, m]) => Object.entries(m).map(([rc, n]) => [type, rc, n])),
      );
    }),
  );

  withServerOptions(program.command('allocations <consumer>').description("a consumer's allocations")).action(
    (consumer: string, o: ServerOptions) =>
      withClient(o, async (pc) => {
        const a = await pc.call('allocations.get', { consumer });
        if (o.json) return a;
        const head =
          a.consumerGeneration === undefined
            ? `consumer ${consumer}: no allocations\n`
            : `consumer ${consumer} generation ${a.consumerGeneration} project ${a.project} user ${a.user} type ${a.consumerType}\n`;
        return (
          head +
          table(
            ['PROVIDER', 'CLASS', 'AMOUNT'],
            Object.entries(a.allocations).flatMap(([rp, x]) =>
              Object.entries(x.resources).map(([rc, n]) => [rp, rc, n]),
            ),
          )
        );
      }),
  );

  withServerOptions(
    program
      .command('candidates')
      .description('allocation candidates for a request')
      .requiredOption('--resources <list>', 'e.g. VCPU:1,MEMORY_MB:512')
      .option('--required <trait...>', 'required traits (prefix ! to forbid)')
      .option('--limit <n>', 'at most this many candidates'),
  ).action((o: ServerOptions & { resources: string; required?: string[]; limit?: string }) =>
    withClient(o, async (pc) => {
      const body = {
        resources: parseResources(o.resources),
        ...(o.required ? { required: o.required } : {}),
        ...(o.limit ? { limit: intFlag('--limit', o.limit, 1, 100_000) } : {}),
      };
      const c = await pc.call('candidates.get', body);
      if (o.json) return c;
      const rows = c.allocationRequests.flatMap((req, i) =>
        Object.entries(req.allocations).map(([rp, x]) => {
          const summary = c.providerSummaries[rp];
          return [
            i + 1,
            rp,
            Object.entries(x.resources)
              .map(
                ([rc, n]) =>
                  `${rc}:${n} (${summary?.resources[rc]?.used ?? 0}/${summary?.resources[rc]?.capacity ?? '?'} used)`,
              )
              .join(' '),
          ];
        }),
      );
      return `${c.allocationRequests.length} candidate(s)\n` + table(['#', 'PROVIDER', 'RESOURCES'], rows);
    }),
  );
}
