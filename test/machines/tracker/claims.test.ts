/** Instance claims: instance_claim, abort_instance_claim, update_usage, the capacity boundary, opId idempotence. */
import test from 'ava';
import {
  capacity,
  decide,
  toSnapshot,
  TrackerError,
  TrackerErrorCode,
  usage,
  type HostInventory,
} from '../../../machines/tracker/index.js';
import { abort, claim, flavor, Host, LARGE, MEDIUM, SMALL, times, update } from './driver.js';

// (8 - 2) * 1.5 = 9 vcpus, (4096 - 512) * 1.5 = 5376 MB, (50 - 5) * 1 = 45 GB; 64 MB and 1 GB overhead per claim.
const TIGHT: HostInventory = {
  vcpus: 8,
  memoryMb: 4096,
  diskGb: 50,
  reservedVcpus: 2,
  reservedMemoryMb: 512,
  reservedDiskGb: 5,
  allocationRatio: { cpu: 1.5, ram: 1.5, disk: 1 },
};
const OVERHEAD = { vcpus: 0, memoryMb: 64, diskGb: 1 };
const tight = () => new Host(TIGHT, { overhead: OVERHEAD });

test('tracker - capacity is (total - reserved) * ratio', (t) => {
  t.deepEqual(capacity(TIGHT), { vcpus: 9, memoryMb: 5376, diskGb: 45 });
});

test('tracker - instanceClaim adds the flavor plus overhead to usage', (t) => {
  const h = new Host(undefined, { overhead: OVERHEAD });
  const events = h.ok(claim('a', MEDIUM, 'op-a'));
  t.is(events.length, 1);
  t.is(events[0]?.type, 'InstanceClaimed');
  t.deepEqual(usage(h.state), times(MEDIUM, 1, OVERHEAD));
  h.ok(claim('b', SMALL));
  t.deepEqual(usage(h.state), { vcpus: 3, memoryMb: 1024 + 4096 + 128, diskGb: 32 });
  t.deepEqual(h.keys(), ['instance:a', 'instance:b']);
});

test('tracker - instanceClaim fits at exactly capacity and refuses one unit over, per resource', (t) => {
  const cases: Array<[string, ReturnType<typeof flavor>, ReturnType<typeof flavor>]> = [
    ['vcpus', flavor(9, 1, 0), flavor(10, 1, 0)],
    ['memoryMb', flavor(1, 5376 - 64, 0), flavor(1, 5376 - 64 + 1, 0)],
    ['diskGb', flavor(1, 1, 44), flavor(1, 1, 45)],
  ];
  for (const [what, fits, over] of cases) {
    const h1 = tight();
    h1.ok(claim('x', fits));
    t.true(usage(h1.state)[what as 'vcpus'] === capacity(TIGHT)[what as 'vcpus'], what);
    const h2 = tight();
    const err = h2.refused(claim('x', over));
    t.is(err.code, TrackerErrorCode.ComputeResourcesUnavailable, what);
    t.false(err.retryable);
    t.deepEqual(usage(h2.state), { vcpus: 0, memoryMb: 0, diskGb: 0 });
  }
});

test('tracker - capacity counts every claim with its own overhead', (t) => {
  const h = tight();
  // 2 * (2600 + 64) = 5328 MB of 5376: 48 MB left, less than one more claim's overhead alone.
  h.ok(claim('a', flavor(1, 2600, 10)));
  h.ok(claim('b', flavor(1, 2600, 10)));
  t.is(h.refused(claim('c', flavor(0, 0, 0))).code, TrackerErrorCode.ComputeResourcesUnavailable);
  h.ok(abort('b'));
  h.ok(claim('c', flavor(0, 5376 - 2664 - 64, 0)));
  t.is(usage(h.state).memoryMb, 5376);
  t.is(h.refused(claim('d', flavor(0, 0, 0))).code, TrackerErrorCode.ComputeResourcesUnavailable);
});

test('tracker - a refusal carries its wire body', (t) => {
  const h = tight();
  const err = h.refused(claim('a', flavor(100, 1, 1)));
  t.true(err instanceof TrackerError);
  const body = err.toBody();
  t.is(body.status, 409);
  t.is(body.code, 'ComputeResourcesUnavailable');
  t.regex(body.message, /vcpus/);
});

test('tracker - instanceClaim refuses bad input and a different flavor for a claimed instance', (t) => {
  const h = new Host();
  t.is(h.refused(claim('', SMALL)).code, TrackerErrorCode.InvalidCommand);
  t.is(h.refused(claim('a', flavor(-1, 1, 1))).code, TrackerErrorCode.InvalidCommand);
  t.is(h.refused(claim('a', flavor(1.5, 1, 1))).code, TrackerErrorCode.InvalidCommand);
  t.is(
    h.refused({ type: 'instanceClaim', opId: '', instanceId: 'a', flavor: SMALL }).code,
    TrackerErrorCode.InvalidCommand,
  );
  h.ok(claim('a', SMALL));
  const err = h.refused(claim('a', LARGE));
  t.is(err.code, TrackerErrorCode.ClaimExists);
  t.is(err.toBody().status, 409);
  // The same claim under a new opId (a step re-run after a restart) converges.
  t.is(h.ok(claim('a', SMALL))[0]?.type, 'CommandNoted');
  t.deepEqual(usage(h.state), times(SMALL, 1));
});

test('tracker - abortInstanceClaim frees the claim; nothing to abort is success', (t) => {
  const h = new Host();
  h.ok(claim('a', LARGE));
  h.ok(claim('b', SMALL));
  t.is(h.ok(abort('a'))[0]?.type, 'InstanceClaimAborted');
  t.deepEqual(usage(h.state), times(SMALL, 1));
  t.is(h.ok(abort('a'))[0]?.type, 'CommandNoted');
  t.is(h.ok(abort('never'))[0]?.type, 'CommandNoted');
  t.is(h.refused(abort('')).code, TrackerErrorCode.InvalidCommand);
});

test('tracker - updateUsage frees usage only when the removal predicate holds', (t) => {
  const h = new Host();
  h.ok(claim('a', SMALL));
  h.ok(claim('b', SMALL));
  h.ok(claim('c', SMALL));
  for (const [vm, task] of [
    ['active', null],
    ['stopped', null],
    ['shelved', null],
    ['shelved_offloaded', 'spawning'],
    ['error', null],
  ] as const) {
    t.is(h.ok(update('a', vm, task))[0]?.type, 'CommandNoted', `${vm}/${String(task)}`);
  }
  t.deepEqual(usage(h.state), times(SMALL, 3));
  t.is(h.ok(update('a', 'deleted', 'deleting'))[0]?.type, 'InstanceUsageFreed');
  t.is(h.ok(update('b', 'shelved_offloaded', null))[0]?.type, 'InstanceUsageFreed');
  t.deepEqual(h.keys(), ['instance:c']);
  t.deepEqual(usage(h.state), times(SMALL, 1));
  t.is(h.ok(update('a', 'deleted'))[0]?.type, 'CommandNoted');
  t.is(h.refused(update('', 'deleted')).code, TrackerErrorCode.InvalidCommand);
});

test('tracker - updateUsage of a deleted instance frees its move claims too', (t) => {
  const h = new Host();
  h.ok({
    type: 'moveClaim',
    opId: 'm1',
    migrationId: 'm',
    instanceId: 'a',
    flavor: LARGE,
    side: 'destination',
    kind: 'resize',
  });
  h.ok(update('a', 'deleted'));
  t.deepEqual(h.keys(), []);
  t.deepEqual(usage(h.state), { vcpus: 0, memoryMb: 0, diskGb: 0 });
});

test('tracker - the same command under the same opId applies once, for every command', (t) => {
  const h = new Host();
  h.ok(claim('z', SMALL));
  const commands = [
    claim('a', SMALL, 'i1'),
    update('a', 'active', null, 'u1'),
    {
      type: 'moveClaim' as const,
      opId: 'mc1',
      migrationId: 'm',
      instanceId: 'a',
      flavor: MEDIUM,
      side: 'destination' as const,
      kind: 'resize' as const,
    },
    { type: 'finishMove' as const, opId: 'f1', migrationId: 'm' },
    { type: 'dropMoveClaim' as const, opId: 'd1', migrationId: 'm', side: 'destination' as const },
    abort('z', 'a1'),
    update('a', 'deleted', null, 'u2'),
    {
      type: 'reset' as const,
      opId: 'r1',
      instances: [{ instanceId: 'q', flavor: SMALL, vmState: 'active', taskState: null }],
      migrations: [],
    },
  ];
  for (const c of commands) {
    const first = h.ok(c);
    t.is(first.length, 1, c.type);
    const before = toSnapshot(h.state);
    t.deepEqual(decide(h.state, c), [], c.type);
    // Key order does not matter: the fingerprint is over sorted keys.
    t.deepEqual(decide(h.state, Object.fromEntries(Object.entries(c).reverse()) as typeof c), [], c.type);
    t.deepEqual(toSnapshot(h.state), before, c.type);
  }
});

test('tracker - an opId reused for another command is refused', (t) => {
  const h = new Host();
  h.ok(claim('a', SMALL, 'same'));
  const err = h.refused(claim('b', SMALL, 'same'));
  t.is(err.code, TrackerErrorCode.OpIdReused);
  t.false(err.retryable);
  t.is(h.refused(abort('a', 'same')).code, TrackerErrorCode.OpIdReused);
  t.deepEqual(h.keys(), ['instance:a']);
});

test('tracker - a redelivered abort does not abort a later claim (no-ops are remembered too)', (t) => {
  const h = new Host();
  h.ok(abort('a', 'abort-1')); // nothing to abort yet
  h.ok(claim('a', SMALL, 'claim-2'));
  t.deepEqual(h.ok(abort('a', 'abort-1')), []);
  t.deepEqual(h.keys(), ['instance:a']);
});

test('tracker - the opId memory is bounded and forgets the oldest first', (t) => {
  const h = new Host(undefined, { opMemory: 2 });
  h.ok(claim('a', SMALL, 'o1'));
  h.ok(claim('b', SMALL, 'o2'));
  h.ok(claim('c', SMALL, 'o3'));
  t.deepEqual([...h.state.applied.keys()], ['o2', 'o3']);
  // Forgotten, o1 is judged again: the identical claim converges instead of double counting.
  t.is(h.ok(claim('a', SMALL, 'o1'))[0]?.type, 'CommandNoted');
  t.deepEqual(usage(h.state), times(SMALL, 3));
});

test('tracker - decide never mutates the state', (t) => {
  const h = new Host();
  h.ok(claim('a', SMALL));
  const before = toSnapshot(h.state);
  decide(h.state, claim('b', LARGE));
  decide(h.state, abort('a'));
  decide(h.state, update('a', 'deleted'));
  t.deepEqual(toSnapshot(h.state), before);
});
