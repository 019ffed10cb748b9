/** Build, delete, stop/start, stale results, redelivery and restore of the instance machine. */
import test from 'ava';
import {
  CLEANUP_RETRIES,
  instanceMachine,
  inFlightStep,
  HANDLED_LIMIT,
  type InstanceSnapshot,
  type StepName,
} from '../../../machines/instance/index.js';
import { TERMINAL_SUCCESS } from '../../../protocol/schemas/instance.js';
import { Run, active, events, finals, input, notes, steps, tasks } from './driver.js';

const BUILD: StepName[] = ['claim', 'network', 'blockDevices', 'spawn'];
const RELEASE: StepName[] = ['destroy', 'releaseClaim', 'deleteAllocations'];

test('instance machine - build runs claim, network, block devices, spawn and ends active', (t) => {
  const r = new Run();
  t.deepEqual(events(r.log), [], 'the gateway announced the first attempt; a reschedule announces its own');
  t.deepEqual(steps(r.log), ['claim']);
  t.is(r.rec.vmState, 'building');
  t.is(r.rec.taskState, 'scheduling');
  t.deepEqual(r.settle(), BUILD);
  t.deepEqual(tasks(r.log), ['networking', 'block_device_mapping', 'spawning', null]);
  t.deepEqual(
    r.log.flatMap((e) => (e.type === 'runStep' ? [e.params.key] : [])),
    BUILD.map((s) => `i-1:boot-1:${s}`),
  );
  const fin = finals(r.log);
  t.is(fin.length, 1);
  t.is(fin[0]?.event, TERMINAL_SUCCESS.boot);
  t.is(fin[0]?.corr, 'boot-1');
  t.true(notes(r.log).every((n) => n.corr === 'boot-1'));
  t.like(r.rec, { vmState: 'active', taskState: null, powerState: 'running', host: 'h1' });
  t.is(inFlightStep(r.snap), undefined);
});

for (const failAt of ['claim', 'spawn'] as const) {
  test(`instance machine - reschedulable ${failAt} failure releases the claim and hands the build back`, (t) => {
    const r = new Run();
    while (inFlightStep(r.snap)?.step !== failAt) r.step();
    const out = r.step({ code: 'ComputeResourcesUnavailable', message: 'no room', reschedulable: true });
    t.deepEqual(
      events(out).filter((e) => e !== 'instance.update'),
      ['instance.create.error'],
    );
    t.is(finals(out).length, 0);
    t.deepEqual(r.settle(), ['destroy', 'releaseClaim', 'reschedule']);
    t.is(r.snap.status, 'done');
    t.is(r.value, '"rescheduled"');
    t.like(r.rec, { vmState: 'building', taskState: 'scheduling', host: null, node: null });
    t.deepEqual(r.rec.fault, { code: 'ComputeResourcesUnavailable', message: 'no room' });
    t.is(finals(r.log).length, 0, 'the boot command is finished by the alternate host or the conductor');
  });
}

test('instance machine - a reschedulable failure on the last attempt errors out the build', (t) => {
  const r = new Run(input({ attempt: 3, maxAttempts: 3 }));
  t.is(inFlightStep(r.snap)?.key, 'i-1:boot-1~3:claim', 'each attempt has its own keys');
  r.step({ code: 'ComputeResourcesUnavailable', message: 'no room', reschedulable: true });
  t.deepEqual(r.settle(), RELEASE);
  t.like(r.rec, { vmState: 'error', taskState: null, host: null, powerState: 'nostate' });
  const fin = finals(r.log);
  t.is(fin.length, 1);
  t.is(fin[0]?.event, 'instance.create.error');
  t.deepEqual(fin[0]?.body.final, true);
});

for (const failAt of ['network', 'blockDevices', 'spawn'] as const) {
  test(`instance machine - non-reschedulable ${failAt} failure cleans up and ends in error with a fault`, (t) => {
    const r = new Run();
    while (inFlightStep(r.snap)?.step !== failAt) r.step();
    r.step({ code: 'BuildAbortException', message: 'bad image' });
    t.deepEqual(r.settle(), RELEASE);
    t.like(r.rec, { vmState: 'error', taskState: null, fault: { code: 'BuildAbortException', message: 'bad image' } });
    t.deepEqual(
      finals(r.log).map((n) => n.event),
      ['instance.create.error'],
    );
    t.is(r.value, '"idle"');
  });
}

test('instance machine - a failed cleanup step of a build abort is run again under the same key; after CLEANUP_RETRIES more failures it still ends in error with one final', (t) => {
  const r = new Run();
  r.step({ code: 'X', message: 'claim broke' });
  const key = inFlightStep(r.snap)?.key;
  for (let i = 0; i < CLEANUP_RETRIES; i++) {
    const again = r.step({ code: 'Y', message: 'destroy broke' });
    t.deepEqual(
      again.filter((e) => e.type === 'runStep').map((e) => e.params),
      [{ step: 'destroy', key }],
      'the same step, the same key',
    );
    t.is(r.rec.vmState, 'building');
  }
  r.step({ code: 'Y', message: 'destroy broke' });
  t.like(r.rec, { vmState: 'error', taskState: null, fault: { code: 'X', message: 'claim broke' } });
  t.is(finals(r.log).length, 1);
});

test('instance machine - a cleanup step that fails once and then succeeds goes on as if it had not failed', (t) => {
  const r = new Run();
  r.step({ code: 'X', message: 'claim broke' });
  r.step({ code: 'Y', message: 'destroy broke, once' });
  t.deepEqual(r.settle(), ['destroy', 'releaseClaim', 'deleteAllocations']);
  t.like(r.rec, { vmState: 'error', taskState: null, fault: { code: 'X' } });
  t.is(finals(r.log).length, 1);
});

/** Drives a fresh build to the state waiting on `at` (in the build, reschedule or abort chain). */
function buildAt(at: string): Run {
  const r = new Run();
  const [chain, step] = at.split('/') as [string, StepName];
  if (chain === 'build') {
    while (inFlightStep(r.snap)?.step !== step) r.step();
  } else {
    while (inFlightStep(r.snap)?.step !== 'spawn') r.step();
    r.step({ code: 'E', message: 'e', reschedulable: chain === 'reschedule' });
    while (inFlightStep(r.snap)?.step !== step) r.step();
  }
  return r;
}

const BUILD_POINTS = [
  ...BUILD.map((s) => `build/${s}`),
  'reschedule/destroy',
  'reschedule/releaseClaim',
  'reschedule/reschedule',
  'abort/destroy',
  'abort/releaseClaim',
  'abort/deleteAllocations',
];

for (const at of BUILD_POINTS) {
  test(`instance machine - delete during ${at} wins and releases everything`, (t) => {
    const r = buildAt(at);
    const late = inFlightStep(r.snap);
    t.truthy(late);
    const before = r.log.length;
    const out = r.cmd('delete', {}, { id: 'del-1' });
    t.deepEqual(steps(out), ['destroy']);
    t.is(r.rec.taskState, 'deleting');
    const pre = finals(out, 'boot-1');
    t.is(pre.length, 1, 'the pre-empted boot gets its terminal error');
    t.is(pre[0]?.event, 'instance.create.error');
    t.like(pre[0]?.body, { fault: { code: 'UnexpectedDeletingTaskStateError' } });
    t.true(events(out).includes('instance.delete.start'));
    // The pre-empted step's late result is ignored.
    if (late) {
      const snap = r.snap;
      t.deepEqual(r.send({ type: 'STEP_DONE', ts: 5000, step: late.step, key: late.key }), []);
      t.is(r.snap, snap);
    }
    t.deepEqual(r.settle(), RELEASE);
    t.is(r.value, '"deleted"');
    t.is(r.snap.status, 'done');
    t.like(r.rec, { vmState: 'deleted', taskState: null, powerState: 'nostate' });
    const all = finals(r.log.slice(before));
    t.deepEqual(
      all.map((n) => [n.event, n.corr]),
      [
        ['instance.create.error', 'boot-1'],
        [TERMINAL_SUCCESS.delete, 'del-1'],
      ],
    );
    t.true(
      r.log
        .slice(before)
        .flatMap((e) => (e.type === 'runStep' ? [e.params.key] : []))
        .every((k) => k.startsWith('i-1:del-1:')),
    );
  });
}

for (const vm of ['active', 'stopped', 'error'] as const) {
  test(`instance machine - delete from ${vm} ends deleted with one delete.end`, (t) => {
    const r = active();
    if (vm === 'stopped') {
      r.cmd('stop');
      r.settle();
    }
    if (vm === 'error') {
      r.cmd('rescue');
      r.step({ code: 'InstanceNotRescuable', message: 'no' });
    }
    t.is(r.rec.vmState, vm);
    const before = r.log.length;
    r.cmd('delete', {}, { id: 'd' });
    t.deepEqual(r.settle(), RELEASE);
    const tail = r.log.slice(before);
    t.deepEqual(
      events(tail).filter((e) => e !== 'instance.update'),
      ['instance.delete.start', 'instance.delete.end'],
    );
    t.deepEqual(
      finals(tail).map((n) => n.corr),
      ['d'],
    );
    t.deepEqual(tasks(tail), ['deleting', null]);
    t.is(r.rec.vmState, 'deleted');
  });
}

test('instance machine - a failed delete step leaves error with delete.error, and delete can be retried', (t) => {
  const r = active();
  r.cmd('delete', {}, { id: 'd1' });
  r.step();
  const out = r.step({ code: 'PlacementDown', message: 'x' });
  t.deepEqual(
    finals(out).map((n) => [n.event, n.corr]),
    [['instance.delete.error', 'd1']],
  );
  t.like(r.rec, { vmState: 'error', taskState: null, fault: { code: 'PlacementDown', message: 'x' } });
  r.cmd('delete', {}, { id: 'd2' });
  t.deepEqual(r.settle(), RELEASE);
  t.is(r.rec.vmState, 'deleted');
  t.deepEqual(
    finals(r.log, 'd2').map((n) => n.event),
    ['instance.delete.end'],
  );
});

test('instance machine - a second delete while deleting joins the first and gets its own final', (t) => {
  const r = active();
  r.cmd('delete', {}, { id: 'd1' });
  t.deepEqual(r.cmd('delete', {}, { id: 'd2' }), []);
  r.settle();
  t.deepEqual(
    finals(r.log)
      .slice(1)
      .map((n) => [n.event, n.corr]),
    [
      ['instance.delete.end', 'd1'],
      ['instance.delete.end', 'd2'],
    ],
  );
});

test('instance machine - stop then start', (t) => {
  const r = active();
  let from = r.log.length;
  r.cmd('stop', {}, { id: 's' });
  t.is(r.rec.taskState, 'powering_off');
  t.deepEqual(r.settle(), ['powerOff']);
  let tail = r.log.slice(from);
  t.deepEqual(tasks(tail), ['powering_off', null]);
  t.deepEqual(
    events(tail).filter((e) => e !== 'instance.update'),
    ['instance.power_off.start', 'instance.power_off.end'],
  );
  t.deepEqual(
    finals(tail).map((n) => [n.event, n.corr]),
    [[TERMINAL_SUCCESS.stop, 's']],
  );
  t.like(r.rec, { vmState: 'stopped', taskState: null, powerState: 'shutdown' });
  from = r.log.length;
  r.cmd('start', {}, { id: 'g' });
  t.deepEqual(r.settle(), ['powerOn']);
  tail = r.log.slice(from);
  t.deepEqual(tasks(tail), ['powering_on', null]);
  t.deepEqual(
    finals(tail).map((n) => [n.event, n.corr]),
    [[TERMINAL_SUCCESS.start, 'g']],
  );
  t.like(r.rec, { vmState: 'active', taskState: null, powerState: 'running' });
});

test('instance machine - a failed stop leaves vm unchanged, task null, fault, power_off.error', (t) => {
  const r = active();
  r.cmd('stop', {}, { id: 's' });
  const out = r.step({ code: 'HypervisorUnavailable', message: 'down' });
  t.like(r.rec, {
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    fault: { code: 'HypervisorUnavailable', message: 'down' },
  });
  t.deepEqual(
    finals(out).map((n) => n.event),
    ['instance.power_off.error'],
  );
});

test('instance machine - stop while stopping, start while active, boot on an existing id are rejected', (t) => {
  const r = active();
  r.cmd('stop');
  for (const [action, code] of [
    ['stop', 'InstanceInvalidState'],
    ['start', 'InstanceInvalidState'],
    ['boot', 'InstanceExists'],
  ] as const) {
    const rec = r.rec;
    const value = r.value;
    const out = r.cmd(action, {}, { id: `x-${action}` });
    t.is(out.length, 1);
    t.like(out[0]?.params, {
      event: 'command.rejected',
      corr: `x-${action}`,
      final: true,
      body: { code, final: true, instanceId: 'i-1' },
    });
    t.deepEqual(r.rec, rec);
    t.is(r.value, value);
  }
});

test('instance machine - a step result with a stale key is ignored', (t) => {
  const r = new Run();
  const f = inFlightStep(r.snap);
  t.is(f?.step, 'claim');
  const snap = r.snap;
  t.deepEqual(r.send({ type: 'STEP_DONE', ts: 2000, step: 'claim', key: 'i-1:older-boot:claim' }), []);
  t.deepEqual(
    r.send({
      type: 'STEP_FAILED',
      ts: 2000,
      step: 'claim',
      key: 'i-1:older-boot:claim',
      error: { code: 'E', message: 'm' },
    }),
    [],
  );
  t.deepEqual(
    r.send({ type: 'STEP_DONE', ts: 2000, step: 'network', key: 'i-1:boot-1:network' }),
    [],
    'a result for a step not in flight',
  );
  t.is(r.snap, snap);
  r.settle();
  r.cmd('stop', {}, { id: 's1' });
  r.settle();
  r.cmd('start', {}, { id: 's2' });
  t.deepEqual(
    r.send({ type: 'STEP_DONE', ts: 9000, step: 'powerOff', key: 'i-1:s1:powerOff' }),
    [],
    'the previous op result',
  );
  t.is(r.rec.taskState, 'powering_on');
});

test('instance machine - a redelivered command id is a no-op', (t) => {
  const r = active();
  r.cmd('stop', {}, { id: 's' });
  const snap = r.snap;
  t.deepEqual(r.cmd('stop', {}, { id: 's' }), []);
  t.deepEqual(r.cmd('delete', {}, { id: 's' }), [], 'same id, any action');
  t.deepEqual(r.snap.context, snap.context);
  r.settle();
  t.deepEqual(r.cmd('stop', {}, { id: 's' }), [], 'after it finished');
  const rej = r.cmd('unpause', {}, { id: 'u' });
  t.is(finals(rej).length, 1);
  t.deepEqual(r.cmd('unpause', {}, { id: 'u' }), [], 'a rejected command is not rejected twice');
  t.deepEqual(r.cmd('boot', {}, { id: 'boot-1' }), [], 'the boot id itself');
});

test('instance machine - the handled-id window is bounded', (t) => {
  const r = active();
  for (let i = 0; i < HANDLED_LIMIT + 10; i++) r.cmd('lock', {}, { id: `l${i}` });
  t.is(r.snap.context.handled.length, HANDLED_LIMIT);
  t.deepEqual(r.cmd('lock', {}, { id: `l${HANDLED_LIMIT + 9}` }), []);
  t.is(finals(r.cmd('lock', {}, { id: 'l0' })).length, 1, 'evicted ids are handled again');
});

const restore = (s: InstanceSnapshot): InstanceSnapshot =>
  instanceMachine.resolveState(JSON.parse(JSON.stringify(instanceMachine.getPersistedSnapshot(s))) as never);

test('instance machine - a snapshot restored mid-step reports the same in-flight step and continues', (t) => {
  const seen = new Set<string>();
  const check = (r: Run) => {
    const f = inFlightStep(r.snap);
    if (!f) return;
    seen.add(f.step);
    const back = restore(r.snap);
    t.deepEqual(inFlightStep(back), f);
    t.deepEqual(back.context, r.snap.context);
    r.snap = back;
  };
  const walk = (r: Run) => {
    for (let i = 0; i < 20 && inFlightStep(r.snap); i++) {
      check(r);
      r.step();
    }
  };
  const b = new Run();
  walk(b);
  for (const [a, body] of [
    ['stop', {}],
    ['start', {}],
    ['reboot', { type: 'SOFT' }],
    ['pause', {}],
    ['unpause', {}],
    ['suspend', {}],
    ['resume', {}],
    ['rescue', {}],
    ['unrescue', {}],
    ['delete', {}],
  ] as const) {
    b.cmd(a, body);
    walk(b);
  }
  walk(buildAt('reschedule/destroy'));
  walk(buildAt('abort/destroy'));
  t.deepEqual([...seen].sort(), [
    'blockDevices',
    'claim',
    'deleteAllocations',
    'destroy',
    'network',
    'pause',
    'powerOff',
    'powerOn',
    'reboot',
    'releaseClaim',
    'reschedule',
    'rescue',
    'resume',
    'spawn',
    'suspend',
    'unpause',
    'unrescue',
  ]);
  t.is(b.rec.vmState, 'deleted');
});

test('instance machine - every state that waits declares its step in meta', (t) => {
  const waiting: string[] = [];
  const visit = (
    node: { key: string; meta?: unknown; states: Record<string, unknown>; on: Record<string, unknown> },
    path: string,
  ) => {
    const meta = node.meta as { step?: string } | undefined;
    if (meta?.step) waiting.push(`${path}:${meta.step}`);
    for (const [k, child] of Object.entries(node.states)) visit(child as typeof node, path ? `${path}.${k}` : k);
  };
  visit(instanceMachine.root as never, '');
  t.true(waiting.includes('build.claiming:claim'));
  t.true(waiting.includes('deleting.deletingAllocations:deleteAllocations'));
  // build 4, reschedule 3, abort 3, power ops 10 (with trigger_crash_dump), delete 4 (with the move cleanup), resize 6,
  // confirm 1,
  // revert 4 (with the cleanup of a failed finish), rebuild 4, evacuation 2, live migration 5, soft delete 1, restore
  // 1,
  // shelve 1, imaging 3, offloading 4, unshelve in place 2, unshelve of an offloaded instance 3, volume attach and
  // detach 2, interface attach and detach 2
  t.is(waiting.length, 4 + 3 + 3 + 10 + 4 + 6 + 1 + 4 + 4 + 2 + 5 + 2 + 1 + 3 + 4 + 2 + 3 + 2 + 2);
});

test('instance machine - time comes only from events', (t) => {
  const r = new Run(input({ ts: 5 }));
  t.is(r.rec.updatedAt, 5);
  r.send({ type: 'STEP_DONE', ts: 77, step: 'claim', key: 'i-1:boot-1:claim' });
  t.is(r.rec.updatedAt, 77);
  t.is(r.rec.createdAt, 1000);
});

test('instance machine - a done machine takes no command (regression: transition() still routes events to a done snapshot)', (t) => {
  const r = active();
  r.cmd('delete');
  r.settle();
  t.is(r.snap.status, 'done');
  const snap = r.snap;
  for (const a of ['lock', 'delete', 'start'] as const) t.deepEqual(r.cmd(a), []);
  t.is(r.snap.context, snap.context);
  t.is(r.value, '"deleted"');
});

// Found by novactor chaos (soak seed 15): a delete of a RESIZED instance failed (a driver
// failure), leaving it in ERROR with its move open; a rebuild and then a new migrate were
// accepted on top, the new move replaced the old one in the record, and the old move's
// migration allocation, source claim and source guest leaked.
test('instance machine - an instance left in ERROR with its move open takes only a delete, which cleans the move up', (t) => {
  const r = active();
  r.cmd('resize', { flavor: 'm1.large' });
  const claim = inFlightStep(r.snap)!;
  r.send({
    type: 'STEP_DONE',
    ts: 5000,
    step: claim.step,
    key: claim.key,
    result: { dest: 'h2', flavor: { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 } },
  });
  r.settle();
  t.is(r.rec.vmState, 'resized');
  r.cmd('delete', {}, { id: 'del-1' });
  r.step({ code: 'DriverFailure', message: 'destroy failed' });
  t.like(r.rec, { vmState: 'error', taskState: null });
  t.not(r.snap.context.move, null, 'the move is still open');
  for (const [action, body] of [
    ['rebuild', { image: 'x' }],
    ['migrate', {}],
    ['resize', { flavor: 'm1.small' }],
    ['reboot', { type: 'HARD' }],
    ['live_migrate', {}],
  ] as const) {
    const out = r.cmd(action, body);
    t.like(out[0]?.params, { event: 'command.rejected', body: { code: 'InstanceInvalidState' } }, action);
  }
  r.cmd('delete', {}, { id: 'del-2' });
  t.deepEqual(r.settle(), ['destroy', 'cleanupMove', 'releaseClaim', 'deleteAllocations']);
  t.is(r.rec.vmState, 'deleted');
});
