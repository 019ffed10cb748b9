/**
 * The scheduling catalog (docs/scheduling.md): flavors with extra specs and host aggregates with
 * availability zones (admin, `nv.admin.flavors.*`, `nv.admin.aggregates.*`), and the zones a boot
 * may name (`availability-zones`, any user).
 */
import type { Command } from 'commander';
import type { AggregateRecord, FlavorRecord } from '../../protocol/index.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { collect, intFlag, properties, UsageError } from '../options.js';
import { table } from '../table.js';

interface Explained {
  readonly request: object | null;
  readonly candidates: number;
  readonly truncated: boolean;
  readonly hosts: { host: string; verdict: string; reason?: string; weight?: number }[];
}

const unsets = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, null]));

const specsCell = (f: FlavorRecord) =>
  Object.entries(f.extraSpecs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || null;

function flavorTable(fs: readonly FlavorRecord[]): string {
  return table(
    ['NAME', 'VCPUS', 'RAM MB', 'DISK GB', 'PROPERTIES'],
    fs.map((f) => [f.name, f.vcpus, f.memoryMb, f.rootGb, specsCell(f)]),
  );
}

function aggregateTable(as: readonly AggregateRecord[]): string {
  return table(
    ['ID', 'NAME', 'ZONE', 'HOSTS', 'PROPERTIES'],
    as.map((a) => [
      a.aggregateId,
      a.name,
      a.availabilityZone,
      a.hosts.join(',') || null,
      Object.entries(a.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || null,
    ]),
  );
}

export function registerCatalogOps(program: Command): void {
  const flavor = program.command('flavor').description('admin: flavors and their extra specs (properties)');
  withClientOptions(
    flavor
      .command('create <name>')
      .description('create a flavor; --property trait:HW_CPU_X86_AVX2=required and the like (docs/scheduling.md)')
      .requiredOption('--vcpus <n>', 'virtual CPUs')
      .requiredOption('--ram <mb>', 'memory in MiB')
      .option('--disk <gb>', 'root disk in GiB', '0')
      .option('--property <key=value>', 'an extra spec; repeatable', collect, []),
  ).action((name: string, o: ClientOptions & { vcpus: string; ram: string; disk: string; property: string[] }) =>
    runClient(o, () => {
      if (name.length === 0 || name.length > 255) throw new UsageError('the flavor name must be 1-255 characters');
      const specs = properties(o.property, 'flavor create');
      const body = {
        name,
        vcpus: intFlag('--vcpus', o.vcpus, 1, 2147483647),
        memoryMb: intFlag('--ram', o.ram, 1, 2147483647),
        rootGb: intFlag('--disk', o.disk, 0, 2147483647),
        ...(Object.keys(specs).length > 0 ? { extraSpecs: specs } : {}),
      };
      return async (c) => {
        const r = await c.admin<{ flavor: FlavorRecord }>('flavors.create', body);
        return c.json ? r : flavorTable([r.flavor]);
      };
    }),
  );
  withClientOptions(
    flavor
      .command('set <name>')
      .description("set or unset a flavor's extra specs (instances booted before keep theirs)")
      .option('--property <key=value>', 'set an extra spec; repeatable', collect, [])
      .option('--unset <key>', 'remove an extra spec; repeatable', collect, []),
  ).action((name: string, o: ClientOptions & { property: string[]; unset: string[] }) =>
    runClient(o, () => {
      const extraSpecs = { ...properties(o.property, 'flavor set'), ...unsets(o.unset) };
      if (Object.keys(extraSpecs).length === 0) throw new UsageError('flavor set needs --property or --unset');
      return async (c) => {
        const r = await c.admin<{ flavor: FlavorRecord }>('flavors.set', { name, extraSpecs });
        return c.json ? r : flavorTable([r.flavor]);
      };
    }),
  );
  withClientOptions(flavor.command('delete <name>').description('delete a flavor (instances keep theirs)')).action(
    (name: string, o: ClientOptions) =>
      runClient(o, () => async (c) => {
        await c.admin('flavors.delete', { name });
        return c.json ? {} : `deleted flavor ${name}`;
      }),
  );

  const aggregate = program.command('aggregate').description('admin: host aggregates and availability zones');
  withClientOptions(
    aggregate
      .command('create <name>')
      .description('create a host aggregate; with --zone, an availability zone')
      .option('--zone <zone>', 'its availability zone')
      .option('--property <key=value>', 'metadata; repeatable', collect, []),
  ).action((name: string, o: ClientOptions & { zone?: string; property: string[] }) =>
    runClient(o, () => {
      const metadata = properties(o.property, 'aggregate create');
      const body = { name, ...(o.zone !== undefined ? { availabilityZone: o.zone } : {}), metadata };
      return async (c) => {
        const r = await c.admin<{ aggregate: AggregateRecord }>('aggregates.create', body);
        return c.json ? r : aggregateTable([r.aggregate]);
      };
    }),
  );
  withClientOptions(aggregate.command('list').description('every aggregate')).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const r = await c.admin<{ aggregates: AggregateRecord[] }>('aggregates.list', {});
      return c.json ? r : aggregateTable(r.aggregates);
    }),
  );
  withClientOptions(aggregate.command('show <id>').description('one aggregate')).action(
    (id: string, o: ClientOptions) =>
      runClient(o, () => {
        const aggregateId = tokenArg('the aggregate id', id);
        return async (c) => {
          const r = await c.admin<{ aggregate: AggregateRecord }>('aggregates.show', { aggregateId });
          return c.json ? r : aggregateTable([r.aggregate]);
        };
      }),
  );
  withClientOptions(
    aggregate
      .command('set <id>')
      .description("rename, (un)zone, or change an aggregate's metadata")
      .option('--name <name>', 'a new name')
      .option('--zone <zone>', 'make it this availability zone')
      .option('--no-zone', 'make it no availability zone')
      .option('--property <key=value>', 'set metadata; repeatable', collect, [])
      .option('--unset <key>', 'remove metadata; repeatable', collect, []),
  ).action(
    (id: string, o: ClientOptions & { name?: string; zone?: string | false; property: string[]; unset: string[] }) =>
      runClient(o, () => {
        const aggregateId = tokenArg('the aggregate id', id);
        const metadata = { ...properties(o.property, 'aggregate set'), ...unsets(o.unset) };
        const body = {
          aggregateId,
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.zone === false ? { availabilityZone: null } : o.zone !== undefined ? { availabilityZone: o.zone } : {}),
          ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
        };
        return async (c) => {
          const r = await c.admin<{ aggregate: AggregateRecord }>('aggregates.set', body);
          return c.json ? r : aggregateTable([r.aggregate]);
        };
      }),
  );
  for (const [cmd, op, what] of [
    ['add-host', 'aggregates.addHost', 'add a compute host (a host is in one zone at most)'],
    ['remove-host', 'aggregates.removeHost', 'remove a compute host'],
  ] as const)
    withClientOptions(aggregate.command(`${cmd} <id> <host>`).description(what)).action(
      (id: string, host: string, o: ClientOptions) =>
        runClient(o, () => {
          const body = { aggregateId: tokenArg('the aggregate id', id), host: tokenArg('the host', host) };
          return async (c) => {
            const r = await c.admin<{ aggregate: AggregateRecord }>(op, body);
            return c.json ? r : aggregateTable([r.aggregate]);
          };
        }),
    );
  withClientOptions(aggregate.command('delete <id>').description('delete an aggregate with no hosts')).action(
    (id: string, o: ClientOptions) =>
      runClient(o, () => {
        const aggregateId = tokenArg('the aggregate id', id);
        return async (c) => {
          await c.admin('aggregates.delete', { aggregateId });
          return c.json ? {} : `deleted aggregate ${aggregateId}`;
        };
      }),
  );

  withClientOptions(
    program
      .command('schedule-explain')
      .description('admin: where a boot of a flavor would go now, and why each host would not')
      .requiredOption('--flavor <name>', 'the flavor')
      .option('--availability-zone <zone>', 'in this zone')
      .option('--group <id>', "under this server group's policy as it stands")
      .option('--weigher <w>', 'spread or pack (the conductor default: spread)')
      .option('--limit <n>', 'list at most this many hosts, the best first (1-1000)', '1000'),
  ).action(
    (
      o: ClientOptions & { flavor: string; availabilityZone?: string; group?: string; weigher?: string; limit: string },
    ) =>
      runClient(o, () => {
        if (o.weigher !== undefined && o.weigher !== 'spread' && o.weigher !== 'pack')
          throw new UsageError(`--weigher must be spread or pack, got ${JSON.stringify(o.weigher)}`);
        const limit = intFlag('--limit', o.limit, 1, 1000);
        const body = {
          flavor: o.flavor,
          ...(o.availabilityZone !== undefined ? { availabilityZone: o.availabilityZone } : {}),
          ...(o.group !== undefined ? { group: tokenArg('--group', o.group) } : {}),
          ...(o.weigher !== undefined ? { weigher: o.weigher } : {}),
          limit,
        };
        return async (c) => {
          const r = await c.admin<Explained>('schedule.explain', body);
          if (c.json) return r;
          const asked = r.request
            ? `placement is asked for ${JSON.stringify(r.request)}: ${r.candidates} candidates`
            : 'no host can match the request';
          const rows = r.hosts.map((h) => [h.host, h.verdict, h.weight !== undefined ? h.weight.toFixed(3) : h.reason]);
          const more = r.truncated
            ? `(more hosts than listed: the best ${limit} candidates were asked for; --limit)\n`
            : '';
          return `${asked}\n${table(['HOST', 'VERDICT', 'WEIGHT OR REASON'], rows)}${more}`;
        };
      }),
  );

  withClientOptions(
    program.command('availability-zones').description('the availability zones a boot may name (--availability-zone)'),
  ).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const r = await c.query<{ zones: { name: string; hosts: number }[] }>('availabilityZones.list');
      return c.json
        ? r
        : table(
            ['ZONE', 'HOSTS'],
            r.zones.map((z) => [z.name, z.hosts]),
          );
    }),
  );
}
