/**
 * Shelve, shelve_offload, unshelve and snapshot from every reachable idle vm state, in the
 * pure machine: which are accepted (with their steps, task states and terminal event) and
 * which are refused with InstanceInvalidState, changing nothing. Expectations are written from
 * Nova's guards (docs/architecture.md §9.2) and docs/instances.md (Shelve, offload, unshelve and snapshot),
 * independently of the machine's guards.
 */
import test from 'ava';
import { CLEANUP_RETRIES } from '../../../machines/instance/index.js';
import type { InstanceAction, VmState } from '../../../protocol/schemas/instance.js';
import { events, finals, idleIn, refusedUnchanged, steps, tasks } from './driver.js';

const at = idleIn;

interface Expect {
  readonly from: readonly VmState[];
  readonly steps: readonly string[];
  readonly tasks: readonly (string | null)[];
  readonly end: VmState | 'same';
  readonly final: string;
  readonly notifs: readonly string[];
}

const EXPECT: Record<string, { action: InstanceAction; body: Record<string, unknown> } & Expect> = {
  shelve: {
    action: 'shelve',
    body: {},
    from: ['active', 'stopped', 'paused', 'suspended'],
    steps: ['powerOff', 'snapshot', 'uploadImage'],
    tasks: ['shelving', 'shelving_image_pending_upload', 'shelving_image_uploading', null],
    end: 'shelved',
    final: 'instance.shelve.end',
    notifs: ['instance.shelve.start', 'instance.shelve.end'],
  },
  'shelve (offload at once)': {
    action: 'shelve',
    body: { offload: true },
    from: ['active', 'stopped', 'paused', 'suspended'],
    steps: ['powerOff', 'snapshot', 'uploadImage', 'destroy', 'releaseClaim', 'deleteAllocations', 'handBack'],
    tasks: ['shelving', 'shelving_image_pending_upload', 'shelving_image_uploading', 'shelving_offloading', null],
    end: 'shelved_offloaded',
    final: 'instance.shelve_offload.end',
    notifs: [
      'instance.shelve.start',
      'instance.shelve.end',
      'instance.shelve_offload.start',
      'instance.shelve_offload.end',
    ],
  },
  shelve_offload: {
    action: 'shelve_offload',
    body: {},
    from: ['shelved'],
    steps: ['destroy', 'releaseClaim', 'deleteAllocations', 'handBack'],
    tasks: ['shelving_offloading', null],
    end: 'shelved_offloaded',
    final: 'instance.shelve_offload.end',
    notifs: ['instance.shelve_offload.start', 'instance.shelve_offload.end'],
  },
  unshelve: {
    action: 'unshelve',
    body: {},
    from: ['shelved'],
    // running again (vm active) while the shelved image is deleted, still unshelving
    steps: ['powerOn', 'deleteImage'],
    tasks: ['unshelving', 'unshelving', null],
    end: 'active',
    final: 'instance.unshelve.end',
    notifs: ['instance.unshelve.start', 'instance.unshelve.end'],
  },
  snapshot: {
    action: 'snapshot',
    body: { name: 's' },
    from: ['active', 'stopped', 'paused', 'suspended'],
    steps: ['snapshot', 'uploadImage'],
    tasks: ['image_snapshot_pending', 'image_snapshot', 'image_pending_upload', 'image_uploading', null],
    end: 'same',
    final: 'instance.snapshot.end',
    notifs: ['instance.snapshot.start', 'instance.snapshot.end'],
  },
};

const VMS: VmState[] = ['active', 'stopped', 'paused', 'suspended', 'rescued', 'error', 'shelved', 'soft-delete'];

for (const vm of VMS) {
  for (const [label, exp] of Object.entries(EXPECT)) {
    const ok = exp.from.includes(vm);
    test(`instance machine - ${label} from ${vm} is ${ok ? 'accepted' : 'rejected'}`, (t) => {
      const r = at(vm);
      if (!ok) return refusedUnchanged(t, r, exp.action, exp.body);
      const out = r.cmd(exp.action, exp.body, { id: 'op' });
      const from = r.log.length - out.length;
      t.deepEqual(r.settle(), exp.steps);
      const tail = r.log.slice(from);
      t.deepEqual(steps(tail), exp.steps);
      t.deepEqual(tasks(tail), exp.tasks);
      t.deepEqual(
        events(tail).filter((e) => e !== 'instance.update'),
        exp.notifs,
      );
      t.deepEqual(
        finals(tail).map((n) => [n.event, n.corr]),
        [[exp.final, 'op']],
      );
      t.like(r.rec, { vmState: exp.end === 'same' ? vm : exp.end, taskState: null });
      if (exp.end === 'shelved_offloaded') t.like(r.rec, { host: null, node: null });
    });
  }
}

test('instance machine - a command that reaches an offloaded instance before its hand-back is left unanswered (the inbox re-routes it)', (t) => {
  const r = at('shelved');
  r.cmd('shelve_offload', {}, { id: 'off' });
  for (let i = 0; i < 3; i++) r.step();
  t.like(r.rec, { vmState: 'shelved_offloaded', host: null });
  const rec = r.rec;
  for (const [action, body] of [
    ['delete', {}],
    ['unshelve', {}],
    ['lock', {}],
  ] as const) {
    t.deepEqual(r.cmd(action, body, { id: `late-${action}` }), [], action);
    t.deepEqual(r.rec, rec);
  }
});

test('instance machine - failures: a shelve whose image cannot be saved deletes it and ends stopped; a snapshot failure deletes its image and changes nothing', (t) => {
  const s = at('active');
  s.cmd('shelve', {}, { id: 'sh' });
  s.step(); // powerOff
  const out = s.step({ code: 'DriverFailure', message: 'disk' });
  t.deepEqual(steps(out), ['deleteImage']);
  const end = s.step();
  t.deepEqual(
    finals(end).map((n) => n.event),
    ['instance.shelve.error'],
  );
  t.like(s.rec, { vmState: 'stopped', taskState: null, powerState: 'shutdown', fault: { code: 'DriverFailure' } });

  const p = at('paused');
  p.cmd('snapshot', { name: 'x' }, { id: 'sn' });
  p.step();
  t.deepEqual(steps(p.step({ code: 'ImageNotFound', message: 'gone' })), ['deleteImage']);
  t.deepEqual(
    finals(p.step()).map((n) => n.event),
    ['instance.snapshot.error'],
  );
  t.like(p.rec, { vmState: 'paused', taskState: null, fault: { code: 'ImageNotFound' } });
});

test('instance machine - a failed offload leaves the instance shelved here with a fault', (t) => {
  const r = at('shelved');
  r.cmd('shelve_offload', {}, { id: 'off' });
  for (let i = 0; i < CLEANUP_RETRIES; i++)
    t.deepEqual(steps(r.step({ code: 'DriverFailure', message: 'stuck' })), ['destroy'], 'tried again');
  const out = r.step({ code: 'DriverFailure', message: 'stuck' });
  t.deepEqual(
    finals(out).map((n) => n.event),
    ['instance.shelve_offload.error'],
  );
  t.like(r.rec, { vmState: 'shelved', taskState: null, host: 'h1', fault: { code: 'DriverFailure' } });
});

test('instance machine - a locked instance refuses shelve for its owner but takes a snapshot', (t) => {
  const r = at('active');
  r.cmd('lock');
  t.like(r.cmd('shelve', {}, { id: 'sh' })[0]?.params, {
    event: 'command.rejected',
    body: { code: 'InstanceIsLocked' },
  });
  t.deepEqual(steps(r.cmd('snapshot', { name: 'x' }, { id: 'sn' })), ['snapshot']);
});
