/** The dashboard's event view and its server-sent-event frames (machines/http/dashboard-view.ts), pure. */
import test from 'ava';
import { dashboardEvent, sseFrame } from '../../../machines/http/index.js';
import { envelope } from '../../../protocol/index.js';

const event = (type: string, project: string, body: Record<string, unknown>, corr?: string) =>
  envelope({ id: 'e-1', type, ts: 1_000, project, user: 'alice', body, ...(corr ? { corr } : {}) });

test('dashboard view - an instance event carries the server fields the Compute API shows', (t) => {
  const body = {
    instanceId: 'i-1',
    name: 'web-1',
    host: 'h2',
    node: 'h2',
    vmState: 'active',
    taskState: 'powering_off',
    powerState: 'running',
    flavor: { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
  };
  const e = dashboardEvent(event('instance.power_off.start', 'demo', body, 'c-1'), false);
  t.deepEqual(e, {
    id: 'e-1',
    type: 'instance.power_off.start',
    ts: 1_000,
    project: 'demo',
    corr: 'c-1',
    instanceId: 'i-1',
    name: 'web-1',
    server: {
      id: 'i-1',
      name: 'web-1',
      tenant_id: 'demo',
      status: 'ACTIVE',
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:task_state': 'powering-off',
      'OS-EXT-STS:power_state': 1,
      flavor: { original_name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
    },
  });
  const admin = dashboardEvent(event('instance.power_off.end', 'demo', { ...body, final: true }), true);
  t.is(admin.final, true);
  t.is(admin.server?.['OS-EXT-SRV-ATTR:host'], 'h2', 'an admin sees the host');
  const error = dashboardEvent(
    event('instance.create.error', 'demo', {
      ...body,
      vmState: 'error',
      fault: { code: 'NoValidHost', message: 'none' },
    }),
    false,
  );
  t.is(error.fault, 'NoValidHost: none');
  t.is(error.server?.['status'], 'ERROR');
});

test('dashboard view - a refusal has its fault and no state; a system event its subject', (t) => {
  const refused = dashboardEvent(
    event('command.rejected', 'demo', {
      instanceId: 'i-1',
      code: 'InstanceInvalidState',
      message: 'stopped',
      final: true,
    }),
    false,
  );
  t.deepEqual(refused, {
    id: 'e-1',
    type: 'command.rejected',
    ts: 1_000,
    project: 'demo',
    instanceId: 'i-1',
    final: true,
    fault: 'InstanceInvalidState: stopped',
  });
  t.like(dashboardEvent(event('service.down', '_system', { name: 'compute-h1', role: 'compute' }), true), {
    type: 'service.down',
    system: { name: 'compute-h1', detail: 'compute' },
  });
  t.like(dashboardEvent(event('audit.healed', '_system', { host: 'h3', repaired: [{}, {}] }), true), {
    system: { name: 'h3', detail: '2 repaired' },
  });
});

test('dashboard view - a frame is id, event and one data line; a line break cannot end a field early', (t) => {
  t.is(sseFrame('instance', { a: 'x\ny' }, 'e-1'), 'id: e-1\nevent: instance\ndata: {"a":"x\\ny"}\n\n');
  t.is(sseFrame('rea\ndy', { ok: true }, 'a\r\nb'), 'id: ab\nevent: ready\ndata: {"ok":true}\n\n');
  t.is(sseFrame('ready', {}), 'event: ready\ndata: {}\n\n');
});
