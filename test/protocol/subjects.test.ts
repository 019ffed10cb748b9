import test from 'ava';
import {
  parseCommandSubject,
  parseEventSubject,
  parsePeerSubject,
  ProtocolError,
  ProtocolErrorCode,
  subjects,
} from '../../protocol/index.js';

const s = subjects();

test('subjects - builds every documented subject', (t) => {
  t.is(s.cmd('demo', 'i-1', 'boot'), 'nv.cmd.demo.i-1.boot');
  t.is(s.host('h1'), 'nv.host.h1.task');
  t.is(s.conductor('build'), 'nv.conductor.build');
  t.is(s.evt('demo', 'i-1', 'instance.create.end'), 'nv.evt.demo.i-1.instance.create.end');
  t.is(s.systemEvt('placement', 'p1', 'leader'), 'nv.evt._system.placement.p1.leader');
  t.is(s.query('demo', 'instances.list'), 'nv.query.demo.instances.list');
  t.is(s.admin('hosts.disable'), 'nv.admin.hosts.disable');
  t.is(s.placement('allocations.put'), 'nv.placement.allocations.put');
  t.is(s.tracker('h1', 'claim'), 'nv.tracker.h1.claim');
  t.is(s.rpc('h1', 'prep_resize'), 'nv.rpc.h1.prep_resize');
  t.is(s.peerRpc('h1', 'h2', 'destroyGuest'), 'nv.rpc.h1.from.h2.destroyGuest');
  t.is(s.peerTracker('h1', 'h2', 'moveClaim'), 'nv.tracker.h1.from.h2.moveClaim');
  t.is(s.ctl('compute-h1', 'kill'), 'nv.ctl.compute-h1.kill');
  t.is(s.ctlAll('compute-h1'), 'nv.ctl.compute-h1.>');
  t.is(subjects('cloud2').cmd('p', 'i', 'stop'), 'cloud2.cmd.p.i.stop');
});

test('subjects - reject tokens with dots, wildcards, whitespace or nothing', (t) => {
  for (const bad of ['a.b', '*', '>', 'a b', 'a\tb', '', 'x>', 'é', 'a'.repeat(129)]) {
    const e = t.throws(() => s.cmd('demo', bad, 'boot'), { instanceOf: ProtocolError }, JSON.stringify(bad));
    t.is(e?.code, ProtocolErrorCode.InvalidSubject);
  }
  t.throws(() => s.host('h.1'));
  t.throws(() => subjects('a.b'), { instanceOf: ProtocolError }, 'a prefix is one token: it names buckets');
  t.throws(() => s.evt('demo', 'i', 'instance..end'));
});

test('subjects - parse command subjects and refuse malformed ones', (t) => {
  t.deepEqual(parseCommandSubject('nv.cmd.demo.i-1.boot'), {
    ok: true,
    value: { project: 'demo', instanceId: 'i-1', action: 'boot' },
  });
  for (const bad of [
    'nv.cmd.demo.i-1',
    'nv.cmd.demo.i-1.boot.x',
    'nv.evt.demo.i.boot',
    'nv.cmd._system.i.boot',
    'nv.cmd.demo..boot',
  ]) {
    t.false(parseCommandSubject(bad).ok, bad);
  }
});

test('subjects - parse event subjects keeping the dotted type', (t) => {
  t.deepEqual(parseEventSubject('nv.evt.demo.i-1.instance.create.end'), {
    ok: true,
    value: { project: 'demo', instanceId: 'i-1', eventType: 'instance.create.end' },
  });
  t.false(parseEventSubject('nv.evt.demo.i-1').ok);
});

test('subjects - a call between hosts names its caller; the callee parses it back and refuses any other shape', (t) => {
  t.deepEqual(parsePeerSubject('nv.rpc.h1.from.h2.destroyGuest', 'rpc', 'h1'), {
    ok: true,
    value: { caller: 'h2', op: 'destroyGuest' },
  });
  t.deepEqual(parsePeerSubject('nv.tracker.h1.from.h2.dropMoveClaim', 'tracker', 'h1'), {
    ok: true,
    value: { caller: 'h2', op: 'dropMoveClaim' },
  });
  for (const bad of [
    'nv.rpc.h3.from.h2.destroyGuest',
    'nv.rpc.h1.destroyGuest',
    'nv.rpc.h1.from.h2',
    'nv.rpc.h1.from.h2.a.b',
    'nv.tracker.h1.from.h2.moveClaim',
  ]) {
    t.false(parsePeerSubject(bad, 'rpc', 'h1').ok, bad);
  }
  t.throws(() => s.peerRpc('h1', 'h.2', 'destroyGuest'), { instanceOf: ProtocolError });
});
