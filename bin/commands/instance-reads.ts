/** Reads for users: `list`, `show ID`, `flavors` (gateway queries, tables or --json). */
import type { Command } from 'commander';
import type { FlavorRecord, InstanceRecordView } from '../../protocol/index.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { table } from '../table.js';
import { intFlag } from '../options.js';

const when = (ms: number) => new Date(ms).toISOString();

export function registerInstanceReads(program: Command): void {
  withClientOptions(program.command('list').description("the project's instances")).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const r = await c.query<{ instances: InstanceRecordView[] }>('instances.list');
      if (c.json) return r;
      return table(
        ['ID', 'NAME', 'STATUS', 'TASK', 'POWER', 'FLAVOR', 'HOST'],
        r.instances.map((i) => [
          i.instanceId,
          i.name,
          i.vmState.toUpperCase(),
          i.taskState,
          i.powerState,
          i.flavor.name,
          i.host,
        ]),
      );
    }),
  );

  withClientOptions(
    program
      .command('console-log <id>')
      .description("the guest's console output, read on its host (openstack console log show)")
      .option('--length <n>', 'only the last N lines'),
  ).action((id: string, o: ClientOptions & { length?: string }) =>
    runClient(o, () => {
      const instanceId = tokenArg('the instance id', id);
      const length = o.length === undefined ? undefined : intFlag('--length', o.length, 1, 10_000);
      return async (c) => {
        const r = await c.query<{ output: string }>('instances.consoleLog', {
          instanceId,
          ...(length !== undefined ? { length } : {}),
        });
        return c.json ? r : r.output.endsWith('\n') || r.output === '' ? r.output : `${r.output}\n`;
      };
    }),
  );

  withClientOptions(program.command('show <id>').description('one instance')).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const instanceId = tokenArg('the instance id', id);
      return async (c) => {
        const r = await c.query<{ instance: InstanceRecordView }>('instances.show', { instanceId });
        if (c.json) return r;
        const i = r.instance;
        const rows: [string, string | number | null][] = [
          ['id', i.instanceId],
          ['name', i.name],
          ['project', i.project],
          ['user', i.user],
          ['status', i.vmState.toUpperCase()],
          ['task state', i.taskState],
          ['power state', i.powerState],
          [
            'flavor',
            `${i.flavor.name} (${i.flavor.vcpus} vCPU, ${i.flavor.memoryMb} MB RAM, ${i.flavor.rootGb} GB disk)`,
          ],
          ['image', i.image],
          ['host', i.host],
          ['node', i.node],
          ['locked', String(i.locked)],
          [
            'metadata',
            Object.keys(i.metadata).length
              ? Object.entries(i.metadata)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')
              : null,
          ],
          // Nova's `addresses`: network=ip,… (mac), one per port.
          [
            'addresses',
            i.ports?.length
              ? i.ports.map((p) => `${p.networkId}=${p.ips.join(',') || '-'} (${p.mac}, port ${p.portId})`).join('; ')
              : null,
          ],
          [
            'volumes',
            i.blockDevices?.length
              ? i.blockDevices
                  .map((b) => `${b.volumeId} on ${b.device}${b.deleteOnTermination ? ' (delete on termination)' : ''}`)
                  .join(', ')
              : null,
          ],
          ['fault', i.fault ? `${i.fault.code}: ${i.fault.message}` : null],
          ['created', when(i.createdAt)],
          ['updated', when(i.updatedAt)],
        ];
        return table(['FIELD', 'VALUE'], rows);
      };
    }),
  );

  withClientOptions(program.command('flavors').description('the flavors an instance can be booted with')).action(
    (o: ClientOptions) =>
      runClient(o, () => async (c) => {
        const r = await c.query<{ flavors: FlavorRecord[] }>('flavors.list');
        if (c.json) return r;
        return table(
          ['NAME', 'VCPUS', 'MEMORY_MB', 'ROOT_GB', 'PROPERTIES'],
          r.flavors.map((f) => [
            f.name,
            f.vcpus,
            f.memoryMb,
            f.rootGb,
            Object.entries(f.extraSpecs ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || null,
          ]),
        );
      }),
  );
}
