/**
 * Every power operation from every stable state, through the whole cloud: allowed ones run
 * with their start and end events and land in the state Nova lands in; the others get
 * `command.rejected InstanceInvalidState` and change nothing. Plus authorization and quota.
 */
import test from 'ava';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  queryType,
  subjects,
  type InstanceAction,
} from '../../../protocol/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'o1', vcpus: 64, ramMb: 65536 }]);
test.after.always(async () => (await cloud).stop());

type State = 'active' | 'stopped' | 'paused' | 'suspended';
const PREP: Record<State, InstanceAction[]> = {
  active: [],
  stopped: ['stop'],
  paused: ['pause'],
  suspended: ['suspend'],
};
const POWER: Record<State, string> = {
  active: 'running',
  stopped: 'shutdown',
  paused: 'paused',
  suspended: 'suspended',
};

interface Op {
  readonly label: string;
  readonly action: InstanceAction;
  readonly body?: Record<string, unknown>;
  readonly notif: string;
  readonly from: readonly State[];
  readonly to: State;
}
const OPS: Op[] = [
  { label: 'stop', action: 'stop', notif: 'power_off', from: ['active'], to: 'stopped' },
  { label: 'start', action: 'start', notif: 'power_on', from: ['stopped'], to: 'active' },
  { label: 'pause', action: 'pause', notif: 'pause', from: ['active'], to: 'paused' },
  { label: 'unpause', action: 'unpause', notif: 'unpause', from: ['paused'], to: 'active' },
  { label: 'suspend', action: 'suspend', notif: 'suspend', from: ['active'], to: 'suspended' },
  { label: 'resume', action: 'resume', notif: 'resume', from: ['suspended'], to: 'active' },
  { label: 'reboot SOFT', action: 'reboot', body: { type: 'SOFT' }, notif: 'reboot', from: ['active'], to: 'active' },
  {
    label: 'reboot HARD',
    action: 'reboot',
    body: { type: 'HARD' },
    notif: 'reboot',
    from: ['active', 'stopped', 'paused', 'suspended'],
    to: 'active',
  },
];

let quotaSet = false;
async function instanceIn(c: Cloud, state: State): Promise<string> {
  if (!quotaSet) {
    await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
    quotaSet = true;
  }
  const { id, cmd } = await c.boot(`in-${state}`, 'm1.tiny');
  if ((await c.client.final(id, cmd)).type !== 'instance.create.end') throw new Error('boot failed');
  for (const a of PREP[state]) if (!(await c.act(id, a)).type.endsWith('.end')) throw new Error(`${a} failed`);
  return id;
}

for (const state of ['active', 'stopped', 'paused', 'suspended'] as const) {
  test.serial(`operations - from ${state}: allowed operations run, the rest are InstanceInvalidState`, async (t) => {
    const c = await cloud;
    const base = await instanceIn(c, state);
    for (const op of OPS) {
      if (!op.from.includes(state)) {
        const r = await c.act(base, op.action, op.body ?? {});
        t.is(r.type, 'command.rejected', `${op.label} from ${state}`);
        t.is(r.body['code'], 'InstanceInvalidState', `${op.label} from ${state}`);
        t.like(
          (await c.stores.instances.get(base))?.value,
          { vmState: state, taskState: null, powerState: POWER[state] },
          'nothing changed',
        );
        continue;
      }
      const id = await instanceIn(c, state);
      const cmd = await c.client.command(id, op.action, op.body ?? {});
      const end = await c.client.final(id, cmd);
      t.is(end.type, `instance.${op.notif}.end`, `${op.label} from ${state}`);
      const mine = (await c.client.events(id)).filter((e) => e.corr === cmd).map((e) => e.type);
      // As in Nova: the task state change (instance.update) comes first, then <op>.start, then <op>.end last.
      t.is(mine[0], 'instance.update');
      t.true(mine.indexOf(`instance.${op.notif}.start`) > 0, `${op.label} has its start event`);
      t.is(mine.at(-1), `instance.${op.notif}.end`);
      t.like((await c.stores.instances.get(id))?.value, { vmState: op.to, taskState: null, powerState: POWER[op.to] });
      t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    }
    t.is((await c.act(base, 'delete')).type, 'instance.delete.end', `delete from ${state}`);
    const again = await c.act(base, 'stop');
    t.is(again.body['code'], 'InstanceNotFound', 'a deleted instance is gone');
  });
}

test.serial('operations - an instance in ERROR (no valid host) takes only delete', async (t) => {
  const c = await cloud;
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const id = crypto.randomUUID();
  const cmd = await admin.command(id, 'boot', { name: 'nowhere', flavor: 'm1.tiny', host: 'no-such-host' });
  const err = await admin.final(id, cmd);
  t.is(err.type, 'instance.create.error');
  t.is((err.body['fault'] as { code: string }).code, 'NoValidHost');
  for (const a of ['stop', 'start', 'pause', 'resume', 'suspend', 'unpause'] as const)
    t.is((await c.act(id, a)).body['code'], 'InstanceInvalidState', a);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.deepEqual((await c.placement.call('allocations.get', { consumer: id })).allocations, {});
});

test.serial(
  'operations - another project cannot act: a mismatched envelope is NotAuthorized, a foreign instance is not found, forcing a host needs admin',
  async (t) => {
    const c = await cloud;
    const id = await instanceIn(c, 'active');
    const spoof = await c.client.command(id, 'stop', {}, { project: 'other' });
    const r1 = await c.client.final(id, spoof);
    t.is(r1.body['code'], 'NotAuthorized');
    const other = new TestClient(c.client.nc, 'other');
    const foreign = await other.command(id, 'stop');
    const r2 = await other.final(id, foreign);
    t.is(r2.body['code'], 'InstanceNotFound');
    const newId = crypto.randomUUID();
    const forced = await c.client.command(newId, 'boot', { name: 'x', flavor: 'm1.tiny', host: 'o1' });
    t.is((await c.client.final(newId, forced)).body['code'], 'NotAuthorized');
    t.is(await c.stores.instances.get(newId), undefined);
    t.like((await c.stores.instances.get(id))?.value, { vmState: 'active', taskState: null });
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('operations - a boot over quota is QuotaExceeded and creates nothing', async (t) => {
  const c = await cloud;
  const tight = new TestClient(c.client.nc, 'tight');
  await c.stores.quotas.create('tight', { instances: 1, cores: 10, ramMb: 100_000 });
  const a = crypto.randomUUID();
  const ca = await tight.command(a, 'boot', { name: 'one', flavor: 'm1.tiny' });
  t.is((await tight.final(a, ca)).type, 'instance.create.end');
  const b = crypto.randomUUID();
  const cb = await tight.command(b, 'boot', { name: 'two', flavor: 'm1.tiny' });
  const r = await tight.final(b, cb);
  t.is(r.type, 'command.rejected');
  t.is(r.body['code'], 'QuotaExceeded');
  t.is(await c.stores.instances.get(b), undefined);
});

test.serial(
  'operations - actions: every command on an instance with its result, as openstack server event list shows them',
  async (t) => {
    const c = await cloud;
    const id = await instanceIn(c, 'active');
    await c.act(id, 'stop');
    await c.act(id, 'stop'); // rejected: already stopped
    await c.act(id, 'delete');
    const req = envelope({
      id: crypto.randomUUID(),
      type: queryType('actions.list'),
      ts: Date.now(),
      project: 'demo',
      user: 'alice',
      body: { instanceId: id },
    });
    const msg = await c.client.nc.request(subjects().query('demo', 'actions.list'), encodeMessage(req), {
      timeout: 10_000,
    });
    const r = decodeMessage(msg.data, MessageKind.Reply);
    if (!r.ok) throw r.error;
    const actions = (
      r.value.body as { actions: Array<{ action: string; result: string | null; fault?: { code: string } }> }
    ).actions;
    t.deepEqual(
      actions.map((a) => [a.action, a.result]),
      [
        ['boot', 'success'],
        ['stop', 'success'],
        ['stop', 'rejected'],
        ['delete', 'success'],
      ],
    );
    t.is(actions[2]?.fault?.code, 'InstanceInvalidState');
    const other = envelope({
      id: crypto.randomUUID(),
      type: queryType('actions.list'),
      ts: Date.now(),
      project: 'other',
      user: 'eve',
      body: { instanceId: id },
    });
    const refused = decodeMessage(
      (await c.client.nc.request(subjects().query('other', 'actions.list'), encodeMessage(other), { timeout: 10_000 }))
        .data,
      MessageKind.Reply,
    );
    t.true(
      refused.ok && refused.value.type === 'error' && refused.value.body['code'] === 'InstanceNotFound',
      'another project sees nothing',
    );
  },
);
