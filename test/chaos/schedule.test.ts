/**
 * The fault schedule and the workload are functions of the seed: a replay strikes the same faults and makes the same
 * choices.
 */
import test from 'ava';
import { driverChaos, faultSchedule } from '../../chaos/schedule.js';
import { Workload } from '../../chaos/workload.js';
import type { ChaosOptions } from '../../chaos/history.js';

const base: ChaosOptions = {
  seed: 7,
  durationMs: 60_000,
  clients: 2,
  hosts: 4,
  faults: ['kill', 'pause', 'nats', 'driver'],
  rate: 30,
  cluster: 3,
};

test('chaos schedule - the same seed gives the same schedule; another seed another', (t) => {
  t.deepEqual(faultSchedule(base), faultSchedule({ ...base }));
  t.notDeepEqual(faultSchedule(base), faultSchedule({ ...base, seed: 8 }));
  t.deepEqual(driverChaos(base), driverChaos({ ...base }));
});

test('chaos schedule - faults fall inside the run, about `rate` a minute, of the kinds asked for; no nats kills on one server', (t) => {
  const s = faultSchedule(base);
  t.true(s.length >= 15 && s.length <= 45, `${s.length} faults`);
  t.true(s.every((f) => f.atMs > 0 && f.atMs < base.durationMs));
  t.deepEqual([...new Set(s.map((f) => f.kind))].sort(), ['ctl', 'kill9', 'nats', 'pause']);
  const single = faultSchedule({ ...base, cluster: 1 });
  t.false(single.some((f) => f.kind === 'nats'));
  t.deepEqual(
    faultSchedule({ ...base, faults: ['pause'] })
      .map((f) => f.kind)
      .filter((k) => k !== 'pause'),
    [],
  );
  t.deepEqual(faultSchedule({ ...base, rate: 0 }), []);
  t.is(driverChaos({ ...base, faults: ['kill'] }).size, 0);
});

test('chaos schedule - a node lost for good: once per cluster run, mid-run; never on one server; the other faults as without it', (t) => {
  const withLoss = { ...base, faults: [...base.faults, 'nats-loss'] } as const;
  const s = faultSchedule(withLoss);
  const losses = s.filter((f) => f.kind === 'nats-loss');
  t.is(losses.length, 1);
  t.true(losses[0]!.atMs >= base.durationMs * 0.4 && losses[0]!.atMs <= base.durationMs * 0.6, String(losses[0]!.atMs));
  t.deepEqual(
    s.filter((f) => f.kind !== 'nats-loss'),
    faultSchedule(base),
    'adding the loss moves no other fault',
  );
  t.deepEqual(
    s.map((f) => f.atMs),
    [...s.map((f) => f.atMs)].sort((a, b) => a - b),
    'in time order',
  );
  t.false(faultSchedule({ ...withLoss, cluster: 1 }).some((f) => f.kind === 'nats-loss'));
  t.deepEqual(
    faultSchedule({ ...base, faults: ['nats-loss'] }).map((f) => f.kind),
    ['nats-loss'],
    'on its own too',
  );
  t.deepEqual(faultSchedule({ ...withLoss, rate: 0 }), []);
});

test('chaos workload - a client makes the same choices for the same seed, boots until it has instances, and draws uuids', (t) => {
  const res = { networkId: 'net', ports: ['p1', 'p2'], volumes: ['v1', 'v2'] };
  const a = new Workload(3, 1, res);
  const b = new Workload(3, 1, res);
  const pools = [0, 1, 3, 3, 2, 3, 3, 3];
  t.deepEqual(
    pools.map((p) => a.next(p)),
    pools.map((p) => b.next(p)),
  );
  t.is(new Workload(3, 1, res).next(0).action, 'boot');
  const w = new Workload(9, 0, res);
  for (let i = 0; i < 200; i++) {
    const c = w.next(3);
    if (c.target !== 'new') t.true(c.target >= 0 && c.target < 3);
    // Volume and interface operations draw from the shared pools.
    const named = [c.body['volumeId'], c.body['port'], c.body['portId']].filter((x) => x !== undefined);
    for (const x of named) t.true([...res.ports, ...res.volumes].includes(String(x)), String(x));
  }
  const actions = new Set(Array.from({ length: 400 }, () => w.next(3).action));
  for (const a of ['volume_attach', 'volume_detach', 'interface_attach', 'interface_detach']) t.true(actions.has(a), a);
  t.regex(w.instanceId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('chaos schedule - libvirtd and QEMU kills only on a libvirt run, where the fake driver gets no injected failures', (t) => {
  const faults = ['kill', 'libvirtd', 'qemu', 'driver'] as const;
  const fake = faultSchedule({ ...base, cluster: 1, faults: [...faults] });
  t.false(fake.some((f) => f.kind === 'libvirtd' || f.kind === 'qemu'));
  const real = faultSchedule({ ...base, cluster: 1, faults: [...faults], driver: 'libvirt' });
  const kinds = new Set(real.map((f) => f.kind));
  t.true(kinds.has('libvirtd') && kinds.has('qemu'), [...kinds].join(','));
  for (const f of real) if (f.kind === 'libvirtd' || f.kind === 'qemu') t.regex(f.host, /^h[1-4]$/);
  t.is(driverChaos({ ...base, faults: [...faults], driver: 'libvirt' }).size, 0);
  t.true(driverChaos({ ...base, faults: [...faults] }).size > 0);
});
