import test from 'ava';
import { decideCommand, type IncomingCommand } from '../../../machines/gateway/index.js';
import type { InstanceRecord } from '../../../protocol/index.js';

const ID = '6f1c1a2e-8d9b-4c1e-9a53-0a7f1e2d3c4b';
const small = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const medium = { name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 };
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

test('gateway resize - a resize to another known flavor goes to the owning host', (t) => {
  t.deepEqual(decideCommand(cmd('resize', { flavor: 'm1.medium' }), { record: record(), flavor: medium }), {
    kind: 'route',
    host: 'h1',
  });
});

test('gateway resize - an unknown flavor is FlavorNotFound', (t) => {
  t.like(decideCommand(cmd('resize', { flavor: 'm9.huge' }), { record: record(), flavor: undefined }), {
    kind: 'reject',
    code: 'FlavorNotFound',
  });
});

test('gateway resize - the current flavor is InvalidInput (Nova: CannotResizeToSameFlavor)', (t) => {
  const d = decideCommand(cmd('resize', { flavor: 'm1.small' }), { record: record(), flavor: small });
  t.like(d, { kind: 'reject', code: 'InvalidInput' });
  if (d.kind === 'reject') t.regex(d.message, /same flavor/);
});

test('gateway resize - ownership is checked before the flavor: a foreign or unknown instance is not found', (t) => {
  t.like(
    decideCommand(cmd('resize', { flavor: 'm9.huge' }), { record: record({ project: 'other' }), flavor: undefined }),
    { kind: 'reject', code: 'InstanceNotFound' },
  );
  t.like(decideCommand(cmd('resize', { flavor: 'm1.medium' }), { record: undefined, flavor: medium }), {
    kind: 'reject',
    code: 'InstanceNotFound',
  });
  const scheduling = record({ owner: 'conductor', host: null, vmState: 'building', taskState: 'scheduling' });
  t.like(decideCommand(cmd('resize', { flavor: 'm1.medium' }), { record: scheduling, flavor: medium }), {
    kind: 'reject',
    code: 'InstanceInvalidState',
  });
});

test('gateway migrate - a forced host is admin-only; without one anyone may migrate', (t) => {
  t.like(decideCommand(cmd('migrate', { host: 'h2' }), { record: record() }), {
    kind: 'reject',
    code: 'NotAuthorized',
  });
  t.deepEqual(decideCommand(cmd('migrate', { host: 'h2' }, { isAdmin: true }), { record: record() }), {
    kind: 'route',
    host: 'h1',
  });
  t.deepEqual(decideCommand(cmd('migrate'), { record: record() }), { kind: 'route', host: 'h1' });
});

test('gateway confirm/revert - routed to the owning host as they are', (t) => {
  const resized = record({ vmState: 'resized', host: 'h2', node: 'h2', owner: 'host:h2', flavor: medium });
  t.deepEqual(decideCommand(cmd('confirm_resize'), { record: resized }), { kind: 'route', host: 'h2' });
  t.deepEqual(decideCommand(cmd('revert_resize'), { record: resized }), { kind: 'route', host: 'h2' });
});
