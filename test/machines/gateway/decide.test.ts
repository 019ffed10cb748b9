import test from 'ava';
import { decideCommand, type IncomingCommand } from '../../../machines/gateway/index.js';
import type { InstanceRecord } from '../../../protocol/index.js';

const ID = '6f1c1a2e-8d9b-4c1e-9a53-0a7f1e2d3c4b';
const small = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const cmd = (
  action: IncomingCommand['action'],
  body: Record<string, unknown> = {},
  extra: Partial<IncomingCommand> = {},
): IncomingCommand => ({
  commandId: 'c-1',
  action,
  body,
  project: 'demo',
  instanceId: ID,
  user: 'alice',
  isAdmin: false,
  ts: 1000,
  ...extra,
});
const record = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: ID,
  name: 'web',
  project: 'demo',
  user: 'alice',
  host: 'h1',
  node: 'h1',
  vmState: 'active',
  taskState: null,
  powerState: 'running',
  flavor: small,
  image: null,
  metadata: {},
  locked: false,
  createdAt: 1,
  updatedAt: 1,
  createdBy: 'c-0',
  forcedHost: null,
  owner: 'host:h1',
  epoch: 1,
  ...over,
});

test('gateway decide - a boot creates a building/scheduling record owned by the conductor', (t) => {
  const d = decideCommand(cmd('boot', { name: 'web', flavor: 'm1.small', metadata: { a: 'b' } }), {
    record: undefined,
    flavor: small,
  });
  t.is(d.kind, 'create');
  if (d.kind !== 'create') return;
  t.like(d.record, {
    vmState: 'building',
    taskState: 'scheduling',
    powerState: 'nostate',
    owner: 'conductor',
    epoch: 0,
    createdBy: 'c-1',
    host: null,
    forcedHost: null,
    metadata: { a: 'b' },
    createdAt: 1000,
  });
});

test('gateway decide - boot refusals: exists, unknown flavor, forced host by a non-admin, non-uuid id', (t) => {
  t.like(decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small' }), { record: record() }), {
    kind: 'reject',
    code: 'InstanceExists',
  });
  t.like(decideCommand(cmd('boot', { name: 'w', flavor: 'nope' }), { record: undefined, flavor: undefined }), {
    kind: 'reject',
    code: 'FlavorNotFound',
  });
  t.like(
    decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small', host: 'h2' }), { record: undefined, flavor: small }),
    { kind: 'reject', code: 'NotAuthorized' },
  );
  t.is(
    decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small', host: 'h2' }, { isAdmin: true }), {
      record: undefined,
      flavor: small,
    }).kind,
    'create',
  );
  t.like(
    decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small' }, { instanceId: 'not-a-uuid' }), {
      record: undefined,
      flavor: small,
    }),
    { kind: 'reject', code: 'InvalidInput' },
  );
});

test('gateway decide - a redelivered boot resumes on the record it wrote', (t) => {
  const mine = record({
    createdBy: 'c-1',
    owner: 'conductor',
    host: null,
    vmState: 'building',
    taskState: 'scheduling',
  });
  t.deepEqual(decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small' }), { record: mine }), {
    kind: 'resumeCreate',
    record: mine,
  });
});

test('gateway decide - a boot replayed once its build was handed over, or a command the instance handled, is a duplicate', (t) => {
  const built = record({ createdBy: 'c-1' });
  t.deepEqual(decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small' }), { record: built }), { kind: 'duplicate' });
  t.deepEqual(
    decideCommand(cmd('boot', { name: 'w', flavor: 'm1.small' }), {
      record: record({ createdBy: 'c-1', vmState: 'deleted' }),
    }),
    { kind: 'duplicate' },
  );
  const handled = record({ vmState: 'deleted', machine: { context: { handled: ['c-0', 'c-1'], op: null } } });
  t.deepEqual(decideCommand(cmd('delete'), { record: handled }), { kind: 'duplicate' });
  // Another project's instance stays invisible, replay or not.
  t.like(decideCommand(cmd('delete'), { record: { ...handled, project: 'other' } }), {
    kind: 'reject',
    code: 'InstanceNotFound',
  });
});

test('gateway decide - other commands go to the owning host; unknown, deleted and foreign instances are not found', (t) => {
  t.deepEqual(decideCommand(cmd('stop'), { record: record() }), { kind: 'route', host: 'h1' });
  t.like(decideCommand(cmd('stop'), { record: undefined }), { kind: 'reject', code: 'InstanceNotFound' });
  t.like(decideCommand(cmd('stop'), { record: record({ vmState: 'deleted' }) }), {
    kind: 'reject',
    code: 'InstanceNotFound',
  });
  t.like(decideCommand(cmd('stop'), { record: record({ project: 'other' }) }), {
    kind: 'reject',
    code: 'InstanceNotFound',
  });
  t.deepEqual(decideCommand(cmd('stop', {}, { isAdmin: true }), { record: record({ project: 'other' }) }), {
    kind: 'route',
    host: 'h1',
  });
});

test('gateway decide - while scheduling only a delete is accepted, and it goes to the conductor', (t) => {
  const scheduling = record({ owner: 'conductor', host: null, vmState: 'building', taskState: 'scheduling' });
  t.deepEqual(decideCommand(cmd('delete'), { record: scheduling }), { kind: 'toConductor' });
  t.like(
    decideCommand(cmd('force_delete'), { record: scheduling }),
    { kind: 'reject', code: 'InstanceInvalidState' },
    'force_delete is for soft-deleted instances',
  );
  t.like(decideCommand(cmd('stop'), { record: scheduling }), { kind: 'reject', code: 'InstanceInvalidState' });
});

test('gateway decide - evacuate is for admins and goes to the conductor (the owning host is down)', (t) => {
  const active = record({ owner: 'host:h1', host: 'h1', vmState: 'active', taskState: null });
  t.like(decideCommand(cmd('evacuate', {}), { record: active }), { kind: 'reject', code: 'NotAuthorized' });
  t.deepEqual(decideCommand(cmd('evacuate', {}, { isAdmin: true }), { record: active }), { kind: 'toConductor' });
});
