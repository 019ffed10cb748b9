/**
 * Project quotas: `quota show` (a project's limits and what it uses, as the gateways count
 * it) and `quota set` (admin: change the limits of a project).
 */
import type { Command } from 'commander';
import type { QuotaView } from '../../protocol/index.js';
import { runClient, withClientOptions, type ClientOptions, type ClientSession } from '../client/session.js';
import { intFlag, UsageError } from '../options.js';
import { table } from '../table.js';

const MAX_LIMIT = 1_000_000_000;
const limit = (n: number) => (n < 0 ? 'unlimited' : String(n));

function printQuota(c: ClientSession, q: QuotaView): string | object {
  if (c.json) return { quota: q };
  const rows: [string, number, number][] = [
    ['instances', q.usage.instances, q.limits.instances],
    ['cores', q.usage.cores, q.limits.cores],
    ['ram (MiB)', q.usage.ramMb, q.limits.ramMb],
  ];
  const head = `project ${q.project}${q.defaults ? ' (default limits)' : ''}\n`;
  return (
    head +
    table(
      ['RESOURCE', 'IN USE', 'LIMIT'],
      rows.map(([r, used, max]) => [r, String(used), limit(max)]),
    )
  );
}

export function registerQuota(program: Command): void {
  const quota = program.command('quota').description("a project's quota: instances, cores and RAM");
  withClientOptions(
    quota.command('show').description("the project's limits and what it uses now (admins may name any project)"),
  ).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      // An operator reads any project through the admin request; a tenant reads its own.
      const r =
        c.user === 'admin'
          ? await c.admin<{ quota: QuotaView }>('quotas.show', { project: c.project })
          : await c.query<{ quota: QuotaView }>('quotas.show');
      return printQuota(c, r.quota);
    }),
  );
  withClientOptions(
    quota
      .command('set')
      .description("change a project's limits (admin); limits not named keep their value, -1 is unlimited")
      .option('--instances <n>', 'instances of the project, in any state but deleted')
      .option('--cores <n>', 'vCPUs of the instances that hold resources')
      .option('--ram <mib>', 'RAM (MiB) of the instances that hold resources'),
  ).action((o: ClientOptions & { instances?: string; cores?: string; ram?: string }) =>
    runClient(o, () => {
      const body = {
        project: o.project,
        ...(o.instances !== undefined ? { instances: intFlag('--instances', o.instances, -1, MAX_LIMIT) } : {}),
        ...(o.cores !== undefined ? { cores: intFlag('--cores', o.cores, -1, MAX_LIMIT) } : {}),
        ...(o.ram !== undefined ? { ramMb: intFlag('--ram', o.ram, -1, MAX_LIMIT) } : {}),
      };
      if (Object.keys(body).length === 1) throw new UsageError('name at least one of --instances, --cores, --ram');
      return async (c) => printQuota(c, (await c.admin<{ quota: QuotaView }>('quotas.set', body)).quota);
    }),
  );
}
