/**
 * Networks, subnets and ports (docs/networks.md): `network create|list|show|delete`, `subnet
 * create|list|show|delete`, `port create|list|show|delete`, `ipam-audit` (admin); what
 * `boot --network/--port/--fixed-ip` send as the boot's `networks`; and the instance commands
 * `attach-interface INSTANCE (--network ID [--fixed-ip IP] | --port ID)`, `detach-interface INSTANCE PORT`.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { NetworkRecord, NetworkRequest, PortRecord, SubnetRecord } from '../../protocol/index.js';
import { UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { table } from '../table.js';
import { instanceCommand, withWait, type WaitOptions } from './instance-ops.js';

const collect = (v: string, all: string[]): string[] => [...all, v];

function nameArg(what: string, name: string): string {
  if (name.length === 0 || name.length > 255) throw new UsageError(`the ${what} name must be 1-255 characters`);
  return name;
}

/** `--pool START-END` (Neutron's `--allocation-pool start=…,end=…` also taken). */
function poolOf(s: string): { start: string; end: string } {
  const m = /^(?:start=)?([0-9.]+)(?:-|,end=)([0-9.]+)$/.exec(s);
  if (!m) throw new UsageError(`--pool must be START-END (or start=START,end=END), got ${JSON.stringify(s)}`);
  return { start: m[1]!, end: m[2]! };
}

/** `--fixed-ip net=<id>,ip=<ip>` of a boot, or `--fixed-ip subnet=<id>,ip=<ip>` of a port create. */
function fixedIpOf(s: string, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const [k, v, ...rest] = part.split('=');
    if (k === undefined || v === undefined || rest.length > 0 || !keys.includes(k) || v.length === 0)
      throw new UsageError(`--fixed-ip takes ${keys.map((x) => `${x}=…`).join(',')}, got ${JSON.stringify(s)}`);
    out[k] = v;
  }
  return out;
}

/** The boot body's `networks` for `--network` (id, auto, none), `--port`, `--fixed-ip`; undefined: none given. */
export function bootNetworksOf(o: {
  network?: string[];
  port?: string[];
  fixedIp?: string[];
}): 'auto' | 'none' | NetworkRequest[] | undefined {
  const nets = o.network ?? [];
  const ports = o.port ?? [];
  const fixed = o.fixedIp ?? [];
  const special = nets.filter((n) => n === 'auto' || n === 'none');
  if (special.length > 0) {
    if (nets.length > 1 || ports.length > 0 || fixed.length > 0)
      throw new UsageError(`--network ${special[0]} goes alone (no other --network, --port or --fixed-ip)`);
    return special[0] as 'auto' | 'none';
  }
  const out: NetworkRequest[] = [
    ...nets.map((n) => ({ network: tokenArg('--network', n) })),
    ...fixed.map((f) => {
      const x = fixedIpOf(f, ['net', 'ip']);
      if (x['net'] === undefined || x['ip'] === undefined) throw new UsageError('--fixed-ip needs net=<id>,ip=<ip>');
      return { network: tokenArg('--fixed-ip net', x['net']), fixedIp: x['ip'] };
    }),
    ...ports.map((p) => ({ port: tokenArg('--port', p) })),
  ];
  return out.length > 0 ? out : undefined;
}

function registerInterfaces(program: Command): void {
  withWait(
    program
      .command('attach-interface <instance>')
      .description('plug an interface into an instance (active, paused or stopped): a new port on a network, or yours')
      .option('--network <id>', 'a new port on this network (yours or a shared one)')
      .option('--fixed-ip <ip>', "the new port's address (with --network)")
      .option('--port <id>', 'a port of yours that serves no instance'),
  ).action((instance: string, o: WaitOptions & { network?: string; fixedIp?: string; port?: string }) =>
    runClient(o, () => {
      if ((o.network === undefined) === (o.port === undefined))
        throw new UsageError('attach-interface takes --network or --port (one of them)');
      if (o.fixedIp !== undefined && o.network === undefined) throw new UsageError('--fixed-ip goes with --network');
      const body =
        o.port !== undefined
          ? { port: tokenArg('--port', o.port) }
          : { network: tokenArg('--network', o.network!), ...(o.fixedIp !== undefined ? { fixedIp: o.fixedIp } : {}) };
      return instanceCommand(o, instance, 'interface_attach', body);
    }),
  );
  withWait(
    program
      .command('detach-interface <instance> <port>')
      .description('unplug a port: one made for the instance is deleted, yours is unbound and kept'),
  ).action((instance: string, port: string, o: WaitOptions) =>
    runClient(o, () => instanceCommand(o, instance, 'interface_detach', { portId: tokenArg('the port id', port) })),
  );
}

export function registerNetworkOps(program: Command): void {
  registerInterfaces(program);
  const network = program.command('network').description('networks: what ports and their addresses are made on');
  withClientOptions(
    network
      .command('create <name>')
      .description('create a network; then a subnet on it (`novactor subnet create`)')
      .option('--shared', 'admin only: every project sees it and may put ports on it'),
  ).action((name: string, o: ClientOptions & { shared?: boolean }) =>
    runClient(o, () => {
      const body = { name: nameArg('network', name), ...(o.shared ? { shared: true } : {}) };
      const id = randomUUID(); // one request id for every retry: one network
      return async (c) => {
        const r = await c.net<{ network: NetworkRecord }>('network.create', body, id);
        return c.json ? r : networkTable([r.network]);
      };
    }),
  );
  withClientOptions(network.command('list').description("the project's networks and the shared ones")).action(
    (o: ClientOptions) =>
      runClient(o, () => async (c) => {
        const r = await c.net<{ networks: NetworkRecord[] }>('network.list', {});
        return c.json ? r : networkTable(r.networks);
      }),
  );
  withClientOptions(network.command('show <id>').description('one network')).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const networkId = tokenArg('the network id', id);
      return async (c) => {
        const r = await c.net<{ network: NetworkRecord }>('network.show', { networkId });
        return c.json ? r : networkTable([r.network]);
      };
    }),
  );
  withClientOptions(
    network.command('delete <id>').description('delete a network and its subnets (refused while it has ports)'),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const networkId = tokenArg('the network id', id);
      return async (c) => {
        await c.net('network.delete', { networkId });
        return c.json ? {} : `deleted network ${networkId}`;
      };
    }),
  );

  const subnet = program.command('subnet').description('subnets: a network’s IPv4 CIDR, gateway and allocation pools');
  withClientOptions(
    subnet
      .command('create <name>')
      .description('create a subnet on a network of the project')
      .requiredOption('--network <id>', 'the network')
      .requiredOption('--cidr <cidr>', 'an IPv4 CIDR, /8 to /30, e.g. 10.0.0.0/24')
      .option('--gateway <ip|none>', 'the gateway (default: the first host address; none: no gateway)')
      .option(
        '--pool <start-end>',
        'an allocation pool (default: every host address but the gateway); repeatable',
        collect,
        [],
      ),
  ).action((name: string, o: ClientOptions & { network: string; cidr: string; gateway?: string; pool: string[] }) =>
    runClient(o, () => {
      const body = {
        networkId: tokenArg('--network', o.network),
        name: nameArg('subnet', name),
        cidr: o.cidr,
        ...(o.gateway !== undefined ? { gatewayIp: o.gateway === 'none' ? null : o.gateway } : {}),
        ...(o.pool.length > 0 ? { allocationPools: o.pool.map(poolOf) } : {}),
      };
      const id = randomUUID();
      return async (c) => {
        const r = await c.net<{ subnet: SubnetRecord }>('subnet.create', body, id);
        return c.json ? r : subnetTable([r.subnet]);
      };
    }),
  );
  withClientOptions(
    subnet
      .command('list')
      .description('the subnets of the networks the project sees')
      .option('--network <id>', 'only this network’s'),
  ).action((o: ClientOptions & { network?: string }) =>
    runClient(o, () => {
      const body = o.network ? { networkId: tokenArg('--network', o.network) } : {};
      return async (c) => {
        const r = await c.net<{ subnets: SubnetRecord[] }>('subnet.list', body);
        return c.json ? r : subnetTable(r.subnets);
      };
    }),
  );
  withClientOptions(subnet.command('show <id>').description('one subnet')).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const subnetId = tokenArg('the subnet id', id);
      return async (c) => {
        const r = await c.net<{ subnet: SubnetRecord }>('subnet.show', { subnetId });
        return c.json ? r : subnetTable([r.subnet]);
      };
    }),
  );
  withClientOptions(
    subnet.command('delete <id>').description('delete a subnet (refused while a port holds one of its addresses)'),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const subnetId = tokenArg('the subnet id', id);
      return async (c) => {
        await c.net('subnet.delete', { subnetId });
        return c.json ? {} : `deleted subnet ${subnetId}`;
      };
    }),
  );

  const port = program.command('port').description('ports: a MAC and fixed IPs on a network, for an instance');
  withClientOptions(
    port
      .command('create [name]')
      .description('create a port; boot an instance with it: `boot --port <its id>`')
      .requiredOption('--network <id>', 'the network')
      .option('--fixed-ip <subnet=ID,ip=IP>', 'an address (either key may be left out); repeatable', collect, []),
  ).action((name: string | undefined, o: ClientOptions & { network: string; fixedIp: string[] }) =>
    runClient(o, () => {
      const fixedIps = o.fixedIp.map((f) => {
        const x = fixedIpOf(f, ['subnet', 'ip']);
        return {
          ...(x['subnet'] !== undefined ? { subnetId: tokenArg('--fixed-ip subnet', x['subnet']) } : {}),
          ...(x['ip'] !== undefined ? { ipAddress: x['ip'] } : {}),
        };
      });
      const body = {
        networkId: tokenArg('--network', o.network),
        ...(name !== undefined ? { name: nameArg('port', name) } : {}),
        ...(fixedIps.length > 0 ? { fixedIps } : {}),
      };
      const id = randomUUID();
      return async (c) => {
        const r = await c.net<{ port: PortRecord }>('port.create', body, id);
        return c.json ? r : portTable([r.port]);
      };
    }),
  );
  withClientOptions(
    port.command('list').description("the project's ports").option('--network <id>', 'only this network’s'),
  ).action((o: ClientOptions & { network?: string }) =>
    runClient(o, () => {
      const body = o.network ? { networkId: tokenArg('--network', o.network) } : {};
      return async (c) => {
        const r = await c.net<{ ports: PortRecord[] }>('port.list', body);
        return c.json ? r : portTable(r.ports);
      };
    }),
  );
  withClientOptions(port.command('show <id>').description('one port')).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const portId = tokenArg('the port id', id);
      return async (c) => {
        const r = await c.net<{ port: PortRecord }>('port.show', { portId });
        return c.json ? r : portTable([r.port]);
      };
    }),
  );
  withClientOptions(
    port
      .command('delete <id>')
      .description('delete a port and release its addresses (refused while an instance uses it)'),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const portId = tokenArg('the port id', id);
      return async (c) => {
        await c.net('port.delete', { portId });
        return c.json ? {} : `deleted port ${portId}`;
      };
    }),
  );

  withClientOptions(
    program
      .command('ipam-audit')
      .description('admin: address and MAC claims no port holds; released unless --dry-run')
      .option('--dry-run', 'only list them')
      .option('--grace <ms>', 'leave claims younger than this (a port being made), default 60000'),
  ).action((o: ClientOptions & { dryRun?: boolean; grace?: string }) =>
    runClient(o, () => {
      const grace = o.grace === undefined ? undefined : Number(o.grace);
      if (grace !== undefined && (!Number.isInteger(grace) || grace < 0 || grace > 86_400_000))
        throw new UsageError('--grace must be 0-86400000 milliseconds');
      const body = { ...(o.dryRun ? { dryRun: true } : {}), ...(grace !== undefined ? { graceMs: grace } : {}) };
      return async (c) => {
        const r = await c.netAdmin<{ claims: number; orphans: { key: string; portId: string }[]; released: number }>(
          'ipam.audit',
          body,
        );
        if (c.json) return r;
        const head = `${r.claims} claims, ${r.orphans.length} orphaned, ${r.released} released`;
        return r.orphans.length === 0
          ? head
          : `${head}\n${table(
              ['KEY', 'PORT'],
              r.orphans.map((x) => [x.key, x.portId]),
            )}`;
      };
    }),
  );
}

function networkTable(ns: readonly NetworkRecord[]): string {
  return table(
    ['ID', 'NAME', 'PROJECT', 'SHARED'],
    ns.map((n) => [n.networkId, n.name, n.project, n.shared ? 'yes' : 'no']),
  );
}

function subnetTable(ss: readonly SubnetRecord[]): string {
  return table(
    ['ID', 'NAME', 'NETWORK', 'CIDR', 'GATEWAY', 'POOLS'],
    ss.map((s) => [
      s.subnetId,
      s.name,
      s.networkId,
      s.cidr,
      s.gatewayIp ?? '-',
      s.allocationPools.map((p) => `${p.start}-${p.end}`).join(','),
    ]),
  );
}

function portTable(ps: readonly PortRecord[]): string {
  return table(
    ['ID', 'NAME', 'NETWORK', 'MAC', 'FIXED IPS', 'STATUS', 'DEVICE', 'HOST'],
    ps.map((p) => [
      p.portId,
      p.name ?? '-',
      p.networkId,
      p.mac ?? '-',
      p.fixedIps.map((f) => f.ipAddress).join(',') || '-',
      p.status,
      p.deviceId ?? '-',
      p.bindingHost ?? '-',
    ]),
  );
}
