/**
 * The chaos checker on hand-made histories: each kind of violation it exists to find is
 * reported, with the ids involved, and a clean history gives none.
 */
import test from 'ava';
import { check, summarize, type FinalInstance } from '../../chaos/checker.js';
import type { HistoryRecord } from '../../chaos/history.js';

const OPTIONS = { seed: 1, durationMs: 1000, clients: 1, hosts: 1, faults: [], rate: 0, cluster: 1 as const };
let seq = 0;
const cmd = (id: string, instanceId: string, action: string, body: Record<string, unknown> = {}): HistoryRecord[] => [
  { k: 'cmd', t: 1, client: 0, id, instanceId, action, body },
  { k: 'ack', t: 2, id, ok: true },
];
const evt = (
  instanceId: string,
  type: string,
  corr: string,
  o: { final?: boolean; vmState?: string; flavor?: string; code?: string; seq?: number } = {},
): HistoryRecord => ({
  k: 'evt',
  t: 3,
  seq: o.seq ?? ++seq,
  instanceId,
  type,
  corr,
  final: o.final ?? false,
  vmState: o.vmState ?? 'active',
  flavor: o.flavor ?? 'm1.tiny',
  code: o.code ?? null,
});
const start: HistoryRecord = { k: 'start', t: 0, options: OPTIONS };
const none = new Map<string, FinalInstance>();

/** A boot, a resize confirmed with its flavor, a delete: every rule satisfied. */
function cleanHistory(): HistoryRecord[] {
  return [
    start,
    ...cmd('c1', 'i1', 'boot', { name: 'a', flavor: 'm1.tiny' }),
    evt('i1', 'instance.create.start', 'c1', { vmState: 'building' }),
    evt('i1', 'instance.create.end', 'c1', { final: true }),
    ...cmd('c2', 'i1', 'resize', { flavor: 'm1.small' }),
    evt('i1', 'instance.resize_finish.end', 'c2', { final: true, vmState: 'resized', flavor: 'm1.small' }),
    ...cmd('c3', 'i1', 'confirm_resize'),
    evt('i1', 'instance.resize_confirm.end', 'c3', { final: true, flavor: 'm1.small' }),
    ...cmd('c4', 'i1', 'stop'),
    evt('i1', 'command.rejected', 'c4', { final: true, vmState: undefined, code: 'InstanceIsLocked' }),
    ...cmd('c5', 'i1', 'delete'),
    evt('i1', 'instance.delete.end', 'c5', { final: true, vmState: 'deleted' }),
    {
      k: 'write',
      t: 4,
      seq: 7,
      rid: 'r1',
      op: 'allocations.put',
      provider: 'h1',
      resource: 'VCPU',
      used: 4,
      capacity: 4,
    },
  ];
}

test('chaos checker - a clean history has no violations', (t) => {
  t.deepEqual(
    check({
      history: cleanHistory(),
      invariants: [],
      final: new Map([['i1', { vmState: 'deleted', flavor: 'm1.small' }]]),
    }),
    [],
  );
});

test('chaos checker - an acknowledged command with no terminal event is lost', (t) => {
  const v = check({
    history: [start, ...cmd('c1', 'i1', 'stop'), evt('i1', 'instance.power_off.start', 'c1')],
    invariants: [],
    final: none,
  });
  t.is(v.length, 1);
  t.like(v[0], { kind: 'lost', ids: ['c1', 'i1'] });
  t.regex(v[0]!.detail, /stop of i1/);
});

test('chaos checker - a command that was never acknowledged may end or not: not a violation', (t) => {
  const h: HistoryRecord[] = [
    start,
    { k: 'cmd', t: 1, client: 0, id: 'c1', instanceId: 'i1', action: 'stop', body: {} },
    { k: 'ack', t: 2, id: 'c1', ok: false, error: 'timeout' },
  ];
  t.deepEqual(check({ history: h, invariants: [], final: none }), []);
});

test('chaos checker - two stored terminal events for one command are a duplicate; the same stored event seen twice is not', (t) => {
  const twice = check({
    history: [
      start,
      ...cmd('c1', 'i1', 'stop'),
      evt('i1', 'instance.power_off.end', 'c1', { final: true, seq: 90 }),
      evt('i1', 'instance.power_off.error', 'c1', { final: true, seq: 91 }),
    ],
    invariants: [],
    final: none,
  });
  t.like(twice, [{ kind: 'duplicated', ids: ['c1', 'i1'] }]);
  const redelivered = check({
    history: [
      start,
      ...cmd('c1', 'i1', 'stop'),
      evt('i1', 'instance.power_off.end', 'c1', { final: true, seq: 92 }),
      evt('i1', 'instance.power_off.end', 'c1', { final: true, seq: 92 }),
    ],
    invariants: [],
    final: none,
  });
  t.deepEqual(redelivered, []);
});

test('chaos checker - a deleted instance seen alive again, or whose record is not deleted, is resurrected', (t) => {
  const h = [
    start,
    ...cmd('c1', 'i1', 'delete'),
    evt('i1', 'instance.delete.end', 'c1', { final: true, vmState: 'deleted' }),
    ...cmd('c2', 'i1', 'start'),
    evt('i1', 'instance.power_on.end', 'c2', { final: true, vmState: 'active' }),
  ];
  const v = check({ history: h, invariants: [], final: new Map([['i1', { vmState: 'active', flavor: 'm1.tiny' }]]) });
  t.deepEqual(
    v.map((x) => x.kind),
    ['resurrected', 'resurrected'],
  );
  t.true(v.every((x) => x.ids.includes('i1')));
});

test('chaos checker - a resize confirmed with another flavor than it was resized to is reported', (t) => {
  const h = [
    start,
    ...cmd('c1', 'i1', 'resize', { flavor: 'm1.small' }),
    evt('i1', 'instance.resize_finish.end', 'c1', { final: true, vmState: 'resized', flavor: 'm1.small' }),
    ...cmd('c2', 'i1', 'confirm_resize'),
    evt('i1', 'instance.resize_confirm.end', 'c2', { final: true, flavor: 'm1.tiny' }),
  ];
  t.like(check({ history: h, invariants: [], final: none }), [{ kind: 'wrong-flavor', ids: ['i1', 'c2'] }]);
});

test('chaos checker - a provider over its capacity after any placement write is reported, naming the write; at capacity is not', (t) => {
  const write = (seq: number, used: number): HistoryRecord => ({
    k: 'write',
    t: 5,
    seq,
    rid: `r${seq}`,
    op: 'allocations.put',
    provider: 'h2',
    resource: 'MEMORY_MB',
    used,
    capacity: 4096,
  });
  const v = check({ history: [start, write(1, 4096), write(2, 4608), write(3, 2048)], invariants: [], final: none });
  t.like(v, [{ kind: 'over-capacity', ids: ['h2', 'r2'] }]);
  t.is(v.length, 1, 'one write over, the one before and the one after within');
  t.regex(v[0]!.detail, /4608 MEMORY_MB of 4096 after allocations.put r2 \(placement log record 2\)/);
  t.deepEqual(
    check({
      history: [start, { ...write(4, 6.5), resource: 'VCPU', capacity: 6.4 } as HistoryRecord],
      invariants: [],
      final: none,
    }).map((x) => x.kind),
    ['over-capacity'],
    'capacity is not truncated either way',
  );
});

test('chaos checker - every repair a host audit made during the run is a healed violation with its detail, even if the final audit is clean', (t) => {
  const h: HistoryRecord[] = [
    ...cleanHistory(),
    {
      k: 'healed',
      t: 9,
      seq: 40,
      host: 'h3',
      repaired: [
        {
          kind: 'leaked-allocation',
          id: 'm7',
          instanceId: 'i7',
          detail: 'removed the allocation (VCPU=1) of completed migration of i7 m7',
        },
        {
          kind: 'stale-claim',
          id: 'instance:i8',
          instanceId: 'i8',
          detail: 'tracker held the instance claim of i8 that no record calls for',
        },
      ],
    },
  ];
  const v = check({ history: h, invariants: [], final: new Map([['i1', { vmState: 'deleted', flavor: 'm1.small' }]]) });
  t.deepEqual(
    v.map((x) => [x.kind, x.ids]),
    [
      ['healed', ['m7', 'i7']],
      ['healed', ['instance:i8', 'i8']],
    ],
  );
  t.regex(v[0]!.detail, /^the audit of h3 repaired leaked-allocation m7: removed the allocation/);
});

test("chaos checker - a terminal event for a command no client sent is unsent (once per command); a periodic's own command and a non-terminal event are not", (t) => {
  const h: HistoryRecord[] = [
    ...cleanHistory(),
    evt('i2', 'instance.power_off.end', 'ghost', { final: true, seq: 50, vmState: 'stopped' }),
    evt('i2', 'instance.power_off.end', 'ghost', { final: true, seq: 51, vmState: 'stopped' }),
    evt('i2', 'instance.power_off.start', 'ghost2', { seq: 52 }),
    evt('i2', 'instance.resize_confirm.end', 'auto-confirm:op-1', { final: true, seq: 53 }),
  ];
  const v = check({ history: h, invariants: [], final: new Map([['i1', { vmState: 'deleted', flavor: 'm1.small' }]]) });
  t.deepEqual(
    v.map((x) => [x.kind, x.ids]),
    [['unsent', ['ghost', 'i2']]],
  );
});

test('chaos checker - a command sent but never acknowledged may still end: its terminal event is not unsent', (t) => {
  const h: HistoryRecord[] = [
    start,
    { k: 'cmd', t: 1, client: 0, id: 'c1', instanceId: 'i1', action: 'stop', body: {} },
    { k: 'ack', t: 2, id: 'c1', ok: false, error: 'timeout' },
    evt('i1', 'instance.power_off.end', 'c1', { final: true }),
  ];
  t.deepEqual(check({ history: h, invariants: [], final: none }), []);
});

test('chaos checker - an observer error (an event or a placement log record that could not be read) is counted, not dropped', (t) => {
  const h: HistoryRecord[] = [
    start,
    { k: 'observer-error', t: 3, source: 'placement-log', detail: 'placement log record 12 is not a v1 batch' },
    { k: 'observer-error', t: 4, source: 'events', detail: 'event 90 does not decode' },
  ];
  const v = check({ history: h, invariants: [], final: none });
  t.deepEqual(
    v.map((x) => x.kind),
    ['observer-error', 'observer-error'],
  );
  t.regex(v[0]!.detail, /^placement-log: placement log record 12/);
});

test("chaos checker - the auditor's findings on the final state (a leaked allocation, a double-owned instance) are violations", (t) => {
  const invariants = [
    { invariant: 'I2', detail: 'allocation of deleted consumer i9 on h1', ids: ['i9'] },
    { invariant: 'I6', detail: 'instance i3 is owned by host h1 but also has an actor on h2', ids: ['i3'] },
  ];
  const v = check({ history: [start], invariants, final: none });
  t.deepEqual(
    v.map((x) => [x.kind, x.ids]),
    [
      ['invariant', ['i9']],
      ['invariant', ['i3']],
    ],
  );
  t.regex(v[0]!.detail, /^I2: /);
});

test('chaos checker - summary counts commands, acknowledgements, outcomes by event (rejections by code) and faults by kind', (t) => {
  const h: HistoryRecord[] = [
    ...cleanHistory(),
    { k: 'fault', t: 9, kind: 'kill9', target: 'gateway' },
    { k: 'fault', t: 9, kind: 'kill9', target: 'conductor' },
    { k: 'fault', t: 9, kind: 'pause', target: 'compute-h1' },
  ];
  const s = summarize(h);
  t.is(s.commands, 5);
  t.is(s.acked, 5);
  t.deepEqual(s.faults, { kill9: 2, pause: 1 });
  t.is(s.outcomes['rejected InstanceIsLocked'], 1);
  t.is(s.outcomes['instance.delete.end'], 1);
});

// Found by the chaos soak (seed 29): the capacity sampler's last round (now: an observer's last message) wrote to the
// history
// after it was closed, and the stream's error crashed the whole soak.
test('chaos history - a record added after close is dropped, not a crash', async (t) => {
  const { HistoryWriter, readHistory } = await import('../../chaos/history.js');
  const { mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'nv-history-')), 'h.jsonl');
  const h = new HistoryWriter(file);
  h.add(start);
  await h.close();
  h.add({
    k: 'write',
    t: 1,
    seq: 1,
    rid: 'r1',
    op: 'allocations.put',
    provider: 'h1',
    resource: 'VCPU',
    used: 1,
    capacity: 4,
  });
  t.deepEqual(readHistory(file), [start]);
  t.is(h.records.length, 1);
});

test('chaos checker - a boot refused for quota is a leaked reservation, unless a boot went unacknowledged', (t) => {
  const refused = [
    start,
    ...cmd('q1', 'i9', 'boot', { name: 'q', flavor: 'm1.tiny' }),
    {
      k: 'evt',
      t: 3,
      seq: ++seq,
      instanceId: 'i9',
      type: 'command.rejected',
      corr: 'q1',
      final: true,
      vmState: null,
      flavor: null,
      code: 'QuotaExceeded',
    } as HistoryRecord,
  ];
  t.deepEqual(
    check({ history: refused, invariants: [], final: none }).map((v) => [v.kind, v.ids]),
    [['quota', ['q1', 'i9']]],
  );
  const unacked: HistoryRecord[] = [
    { k: 'cmd', t: 1, client: 0, id: 'q0', instanceId: 'i8', action: 'boot', body: {} },
    { k: 'ack', t: 2, id: 'q0', ok: false, error: 'no PubAck' },
  ];
  t.deepEqual(
    check({ history: [...refused, ...unacked], invariants: [], final: none }),
    [],
    'an instance may exist that its client does not know of',
  );
});
