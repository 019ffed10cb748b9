/**
 * Operator views and switches of compute hosts: `hosts` (heartbeat, switches and placement
 * usage) and `host enable|disable|force-down|up HOST` (nv.admin.hosts.set).
 */
import type { Command } from 'commander';
import type { HostAdminRecord, HostListEntry } from '../../protocol/index.js';
import { PlacementClient } from '../../actors/placement/index.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions, type ClientSession } from '../client/session.js';
import { UsageError } from '../options.js';
import { table } from '../table.js';

type Usage = Record<string, { used: number; capacity: number }>;

/**
 * Per-host usage from placement (provider name = host name). Best effort: a host without a
 * provider, or placement not answering, shows no usage rather than failing the listing.
 */
async function placementUsage(c: ClientSession, hosts: string[]): Promise<Map<string, Usage>> {
  const out = new Map<string, Usage>();
  const pc = new PlacementClient({ nc: c.nc, deadlineMs: 3000 });
  try {
    const providers = await pc.allProviders();
    const byName = new Map(providers.map((p) => [p.name, p.uuid]));
    await Promise.all(
      hosts.map(async (host) => {
        const uuid = byName.get(host);
        if (!uuid) return;
        const [inv, use] = await Promise.all([
          pc.call('inventories.get', { provider: uuid }),
          pc.call('usages.get', { provider: uuid }),
        ]);
        const usage: Usage = {};
        for (const [rc, i] of Object.entries(inv.inventories))
          usage[rc] = { used: use.usages[rc] ?? 0, capacity: Math.trunc((i.total - i.reserved) * i.allocationRatio) };
        out.set(host, usage);
      }),
    );
  } catch (err) {
    // The listing stands without usage (the placement service is down or restarting); say so.
    process.stderr.write(`novactor: no placement usage: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return out;
}

const cell = (u: Usage | undefined, rc: string) => (u?.[rc] ? `${u[rc].used}/${u[rc].capacity}` : null);

const SWITCHES = {
  enable: { body: { enabled: true }, description: 'let the scheduler place new instances on a host again' },
  disable: {
    body: { enabled: false },
    description: 'stop scheduling new instances to a host (its instances keep running)',
  },
  'force-down': {
    body: { forcedDown: true },
    description: 'mark a host down now, without waiting for its heartbeat to expire (before evacuating it)',
  },
  up: { body: { forcedDown: false }, description: 'clear a forced-down mark' },
} as const;

function printRecord(c: ClientSession, h: HostAdminRecord): string | object {
  if (c.json) return { host: h };
  return table(
    ['HOST', 'ENABLED', 'FORCED DOWN', 'REASON'],
    [[h.host, String(h.enabled), String(h.forcedDown), h.reason]],
  );
}

export function registerHosts(program: Command): void {
  withClientOptions(
    program.command('hosts').description('compute hosts: heartbeat, operator switches and placement usage (admin)'),
  ).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const { hosts } = await c.admin<{ hosts: HostListEntry[] }>('hosts.list');
      const usage = await placementUsage(
        c,
        hosts.map((h) => h.host),
      );
      if (c.json) return { hosts: hosts.map((h) => ({ ...h, usage: usage.get(h.host) ?? null })) };
      return table(
        ['HOST', 'ALIVE', 'ENABLED', 'FORCED DOWN', 'REASON', 'LAST SEEN', 'VCPU', 'MEMORY_MB', 'DISK_GB'],
        hosts.map((h) => {
          const u = usage.get(h.host);
          return [
            h.host,
            h.alive ? 'up' : 'down',
            String(h.enabled),
            String(h.forcedDown),
            h.reason,
            h.lastSeen === null ? null : new Date(h.lastSeen).toISOString(),
            cell(u, 'VCPU'),
            cell(u, 'MEMORY_MB'),
            cell(u, 'DISK_GB'),
          ];
        }),
      );
    }),
  );

  const host = program.command('host').description("change a compute host's operator switches (admin)");
  // `host-down H` / `host-up H`: the spellings Nova operators know for force-down and back.
  const aliases: Record<string, string> = { 'force-down': 'host-down', up: 'host-up' };
  const commands = Object.entries(SWITCHES).flatMap(([name, s]) => {
    const alias = aliases[name];
    return [host.command(`${name} <host>`), ...(alias ? [program.command(`${alias} <host>`)] : [])].map(
      (cmd) => [cmd, s] as const,
    );
  });
  for (const [cmd, s] of commands) {
    withClientOptions(
      cmd.description(s.description).option('--reason <text>', 'why (shown by `novactor hosts`)'),
    ).action((h: string, o: ClientOptions & { reason?: string }) =>
      runClient(o, () => {
        const body = {
          host: tokenArg('the host', h),
          ...s.body,
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
        };
        if ((o.reason?.length ?? 0) > 255) throw new UsageError('--reason is at most 255 characters');
        return async (c) => {
          const r = await c.admin<{ host: HostAdminRecord }>('hosts.set', body);
          return printRecord(c, r.host);
        };
      }),
    );
  }
}
