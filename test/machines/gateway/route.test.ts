/** What a gateway decision claims from the project's quota, and where a routed command goes (local delete). */
import test from 'ava';
import {
  commandRoute,
  quotaClaimOf,
  routeTarget,
  type GatewayDecision,
  type IncomingCommand,
} from '../../../machines/gateway/index.js';
import type { FlavorRecord, InstanceRecord } from '../../../protocol/index.js';
import { record as conductorRecord } from '../conductor/fixtures.js';

const small: FlavorRecord = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const large: FlavorRecord = { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 };
const rec = (over: Partial<InstanceRecord> = {}) =>
  conductorRecord({ vmState: 'active', taskState: null, owner: 'host:h1', host: 'h1', ...over });
const cmd = (action: IncomingCommand['action']): IncomingCommand => ({
  commandId: 'c-1',
  action,
  body: {},
  project: 'demo',
  instanceId: rec().instanceId,
  user: 'alice',
  isAdmin: false,
  ts: 1,
});
const base = { instanceId: rec().instanceId, commandId: 'c-1' };
const route: GatewayDecision = { kind: 'route', host: 'h1' };
const toConductor: GatewayDecision = { kind: 'toConductor' };

test('gateway route - a boot, new or resumed, claims a whole instance of its flavor', (t) => {
  for (const kind of ['create', 'resumeCreate'] as const)
    t.deepEqual(quotaClaimOf({ kind, record: rec() }, cmd('boot'), undefined, small), {
      kind: 'instance',
      ...base,
      flavor: rec().flavor,
    });
});

test('gateway route - a resize claims growth only to a flavor with more cores or RAM', (t) => {
  t.deepEqual(quotaClaimOf(route, cmd('resize'), rec(), large), { kind: 'growth', ...base, cores: 4, ramMb: 8192 });
  t.is(quotaClaimOf(route, cmd('resize'), rec({ flavor: large }), small), undefined);
  t.is(quotaClaimOf(route, cmd('resize'), rec(), undefined), undefined);
});

test('gateway route - an unshelve claims cores and RAM again only for an offloaded instance', (t) => {
  const offloaded = rec({ vmState: 'shelved_offloaded', owner: 'conductor', flavor: large });
  t.deepEqual(quotaClaimOf(toConductor, cmd('unshelve'), offloaded, undefined), {
    kind: 'growth',
    ...base,
    cores: 4,
    ramMb: 8192,
  });
  t.is(quotaClaimOf(toConductor, cmd('unshelve'), rec({ vmState: 'shelved' }), undefined), undefined);
});

test('gateway route - other decisions claim nothing', (t) => {
  t.is(quotaClaimOf(route, cmd('reboot'), rec(), undefined), undefined);
  t.is(quotaClaimOf({ kind: 'duplicate' }, cmd('boot'), rec(), small), undefined);
  t.is(quotaClaimOf({ kind: 'reject', code: 'InvalidInput', message: 'x' }, cmd('boot'), undefined, small), undefined);
});

test('gateway route - a routed command goes to its host; a delete goes to the conductor when the host is down', (t) => {
  t.deepEqual(commandRoute({ kind: 'toConductor' }, 'delete'), { to: 'conductor' });
  const reboot = commandRoute({ kind: 'route', host: 'h1' }, 'reboot');
  t.deepEqual(reboot, { to: 'host', host: 'h1', localIfDown: false });
  t.deepEqual(routeTarget(reboot, true), { to: 'host', host: 'h1' });
  for (const action of ['delete', 'force_delete'] as const) {
    const r = commandRoute({ kind: 'route', host: 'h1' }, action);
    t.deepEqual(r, { to: 'host', host: 'h1', localIfDown: true });
    t.deepEqual(routeTarget(r, false), { to: 'host', host: 'h1' });
    t.deepEqual(routeTarget(r, true), { to: 'conductor' });
  }
  t.deepEqual(routeTarget({ to: 'conductor' }, false), { to: 'conductor' });
});
