/**
 * Move claims: resize/migrate, live migration, evacuation, rebuild; confirm and revert on both sides; same-host resize.
 */
import test from 'ava';
import { TrackerErrorCode, usage, type HostInventory } from '../../../machines/tracker/index.js';
import { claim, drop, finish, flavor, Host, LARGE, MEDIUM, move, SMALL, times } from './driver.js';

const OVERHEAD = { vcpus: 1, memoryMb: 100, diskGb: 2 };
const ZERO = { vcpus: 0, memoryMb: 0, diskGb: 0 };

/** A source and a destination host with instance `a` (MEDIUM) on the source. */
function pair() {
  const src = new Host(undefined, { overhead: OVERHEAD });
  const dst = new Host(undefined, { overhead: OVERHEAD });
  src.ok(claim('a', MEDIUM));
  return { src, dst };
}

/** The forward path of a cross-host resize to LARGE up to finish_resize. */
function resized() {
  const { src, dst } = pair();
  t_ok(dst.ok(move('m', 'a', LARGE, 'destination')), 'MoveClaimed');
  t_ok(src.ok(move('m', 'a', MEDIUM, 'source')), 'MoveClaimed');
  t_ok(dst.ok(finish('m')), 'MoveFinished');
  return { src, dst };
}
function t_ok(events: ReturnType<Host['ok']>, type: string) {
  if (events[0]?.type !== type) throw new Error(`expected ${type}, got ${events[0]?.type ?? 'nothing'}`);
}

test('tracker - resize: destination claims the new flavor, source swaps the instance claim for the move', (t) => {
  const { src, dst } = pair();
  dst.ok(move('m', 'a', LARGE, 'destination'));
  t.deepEqual(dst.keys(), ['move:m:destination']);
  t.deepEqual(usage(dst.state), times(LARGE, 1, OVERHEAD));
  const ev = src.ok(move('m', 'a', MEDIUM, 'source'));
  t.like(ev[0], { type: 'MoveClaimed', replaced: 'instance:a' });
  t.deepEqual(src.keys(), ['move:m:source']);
  t.deepEqual(usage(src.state), times(MEDIUM, 1, OVERHEAD)); // same usage, another holder
});

test('tracker - resize confirm: finish on the destination, drop the source side', (t) => {
  const { src, dst } = resized();
  t.deepEqual(dst.keys(), ['instance:a']);
  t.like(dst.state.claims.get('instance:a'), { flavor: LARGE, migrationId: 'm' });
  t.deepEqual(usage(dst.state), times(LARGE, 1, OVERHEAD));
  t.like(src.ok(drop('m', 'source'))[0], { type: 'MoveClaimDropped', key: 'move:m:source' });
  t.deepEqual(src.keys(), []);
  t.deepEqual(usage(src.state), ZERO);
  t.deepEqual(usage(dst.state), times(LARGE, 1, OVERHEAD));
});

test('tracker - resize revert after finish: drop the destination (the claim it became), finish back on the source', (t) => {
  const { src, dst } = resized();
  t.like(dst.ok(drop('m', 'destination'))[0], { type: 'MoveClaimDropped', key: 'instance:a' });
  t.deepEqual(usage(dst.state), ZERO);
  t.like(src.ok(finish('m'))[0], { type: 'MoveFinished', from: 'move:m:source' });
  t.deepEqual(src.keys(), ['instance:a']);
  t.like(src.state.claims.get('instance:a'), { flavor: MEDIUM, migrationId: null });
  t.deepEqual(usage(src.state), times(MEDIUM, 1, OVERHEAD));
});

test('tracker - failed prep_resize: drop the destination before finish; the source never swapped', (t) => {
  const { src, dst } = pair();
  dst.ok(move('m', 'a', LARGE, 'destination'));
  dst.ok(drop('m', 'destination'));
  t.deepEqual(usage(dst.state), ZERO);
  t.deepEqual(src.keys(), ['instance:a']);
});

test('tracker - move claim refused over capacity on the destination', (t) => {
  const inv: HostInventory = {
    vcpus: 4,
    memoryMb: 8192,
    diskGb: 100,
    reservedVcpus: 0,
    reservedMemoryMb: 0,
    reservedDiskGb: 0,
    allocationRatio: { cpu: 1, ram: 1, disk: 1 },
  };
  const dst = new Host(inv);
  dst.ok(claim('b', flavor(1, 1, 1)));
  const err = dst.refused(move('m', 'a', LARGE, 'destination'));
  t.is(err.code, TrackerErrorCode.ComputeResourcesUnavailable);
  t.false(err.retryable);
  dst.ok(move('m', 'a', flavor(3, 8191, 99), 'destination')); // exactly full
  t.deepEqual(usage(dst.state), { vcpus: 4, memoryMb: 8192, diskGb: 100 });
});

test('tracker - moveClaim refusals: another claim under the key, another instance, bad input', (t) => {
  const { dst } = pair();
  dst.ok(move('m', 'a', LARGE, 'destination'));
  t.is(dst.refused(move('m', 'a', MEDIUM, 'destination')).code, TrackerErrorCode.ClaimExists);
  t.is(dst.refused(move('m', 'b', MEDIUM, 'source')).code, TrackerErrorCode.InvalidCommand);
  t.is(dst.refused(move('', 'a', MEDIUM, 'source')).code, TrackerErrorCode.InvalidCommand);
  t.is(dst.refused(move('n', 'a', MEDIUM, 'up' as 'source')).code, TrackerErrorCode.InvalidCommand);
  t.is(dst.refused(move('n', 'a', MEDIUM, 'source', 'teleport' as 'resize')).code, TrackerErrorCode.InvalidCommand);
  // The identical claim under a new opId converges; so does a destination claim already finished.
  t.is(dst.ok(move('m', 'a', LARGE, 'destination'))[0]?.type, 'CommandNoted');
  dst.ok(finish('m'));
  t.is(dst.ok(move('m', 'a', LARGE, 'destination'))[0]?.type, 'CommandNoted');
  t.deepEqual(dst.keys(), ['instance:a']);
});

test('tracker - source moveClaim without an instance claim is a fresh, capacity-checked claim', (t) => {
  const inv: HostInventory = {
    vcpus: 2,
    memoryMb: 2048,
    diskGb: 20,
    reservedVcpus: 0,
    reservedMemoryMb: 0,
    reservedDiskGb: 0,
    allocationRatio: { cpu: 1, ram: 1, disk: 1 },
  };
  const src = new Host(inv);
  t.like(src.ok(move('m', 'a', SMALL, 'source'))[0], { type: 'MoveClaimed', replaced: null });
  t.is(src.refused(move('n', 'b', MEDIUM, 'source')).code, TrackerErrorCode.ComputeResourcesUnavailable);
});

test('tracker - dropMoveClaim with nothing held is success; finishMove with nothing held is refused', (t) => {
  const h = new Host();
  t.is(h.ok(drop('m', 'source'))[0]?.type, 'CommandNoted');
  t.is(h.ok(drop('m', 'destination'))[0]?.type, 'CommandNoted');
  t.is(h.refused(drop('m', 'sideways' as 'source')).code, TrackerErrorCode.InvalidCommand);
  const err = h.refused(finish('m'));
  t.is(err.code, TrackerErrorCode.ClaimNotFound);
  t.is(err.toBody().status, 404);
  t.is(h.refused(finish('')).code, TrackerErrorCode.InvalidCommand);
});

test('tracker - finishMove twice converges; finishing onto another claim of the instance is refused', (t) => {
  const { dst } = resized();
  t.is(dst.ok(finish('m'))[0]?.type, 'CommandNoted');
  const h = new Host();
  h.ok(claim('a', SMALL));
  h.ok(move('m', 'a', SMALL, 'source'));
  h.ok(claim('a', SMALL)); // a second instance claim beside the source side (not a flow, but possible)
  t.is(h.refused(finish('m')).code, TrackerErrorCode.ClaimConflict);
});

test('tracker - live migration success and rollback', (t) => {
  {
    const { src, dst } = pair();
    dst.ok(move('lm', 'a', MEDIUM, 'destination', 'live_migrate'));
    src.ok(move('lm', 'a', MEDIUM, 'source', 'live_migrate'));
    dst.ok(finish('lm')); // post_live_migration_at_destination
    src.ok(drop('lm', 'source')); // migration consumer deleted
    t.deepEqual(src.keys(), []);
    t.deepEqual(dst.keys(), ['instance:a']);
  }
  {
    const { src, dst } = pair();
    dst.ok(move('lm', 'a', MEDIUM, 'destination', 'live_migrate'));
    src.ok(move('lm', 'a', MEDIUM, 'source', 'live_migrate'));
    dst.ok(drop('lm', 'destination')); // rollback at destination
    src.ok(finish('lm')); // back home
    t.deepEqual(dst.keys(), []);
    t.deepEqual(src.keys(), ['instance:a']);
    t.deepEqual(usage(src.state), times(MEDIUM, 1, OVERHEAD));
  }
});

test('tracker - evacuation: destination claim then finishMove; a failure drops it', (t) => {
  const dst = new Host();
  dst.ok(move('ev', 'a', MEDIUM, 'destination', 'evacuate'));
  dst.ok(finish('ev'));
  t.like(dst.state.claims.get('instance:a'), { flavor: MEDIUM, migrationId: 'ev' });
  const dst2 = new Host();
  dst2.ok(move('ev', 'a', MEDIUM, 'destination', 'evacuate'));
  dst2.ok(drop('ev', 'destination'));
  t.deepEqual(usage(dst2.state), ZERO);
});

test('tracker - same-host resize holds the larger of old and new flavor (max, bug 1790204)', (t) => {
  const h = new Host(undefined, { overhead: OVERHEAD });
  h.ok(claim('a', flavor(4, 2048, 40)));
  const before = usage(h.state);
  h.ok(move('m', 'a', flavor(2, 8192, 20), 'destination'));
  // Only the growth counts: memory grows by 6144, vcpus and disk do not shrink until confirm.
  t.deepEqual(usage(h.state), { vcpus: 5, memoryMb: 8192 + 100, diskGb: 42 });
  h.ok(move('m', 'a', flavor(4, 2048, 40), 'source'));
  t.deepEqual(usage(h.state), { vcpus: 5, memoryMb: 8292, diskGb: 42 });
  h.ok(finish('m'));
  t.deepEqual(h.keys(), ['instance:a', 'move:m:source']);
  t.deepEqual(usage(h.state), { vcpus: 5, memoryMb: 8292, diskGb: 42 });
  // Confirm: the old flavor goes, usage is the new flavor alone.
  const confirmed = new Host(undefined, { overhead: OVERHEAD });
  confirmed.apply(h.log);
  confirmed.ok(drop('m', 'source'));
  t.deepEqual(usage(confirmed.state), times(flavor(2, 8192, 20), 1, OVERHEAD));
  // Revert: drop the new flavor (now the instance claim), finish back onto the old one.
  h.ok(drop('m', 'destination'));
  h.ok(finish('m'));
  t.deepEqual(h.keys(), ['instance:a']);
  t.deepEqual(usage(h.state), before);
});

test('tracker - same-host resize fits when only the growth fits (max), not when both flavors must (sum, Nova)', (t) => {
  const inv: HostInventory = {
    vcpus: 8,
    memoryMb: 8192,
    diskGb: 100,
    reservedVcpus: 0,
    reservedMemoryMb: 0,
    reservedDiskGb: 0,
    allocationRatio: { cpu: 1, ram: 1, disk: 1 },
  };
  const max = new Host(inv, { sameHostResize: 'max' });
  const sum = new Host(inv, { sameHostResize: 'sum' });
  for (const h of [max, sum]) {
    h.ok(claim('a', flavor(4, 4096, 40)));
    h.ok(move('m', 'a', flavor(4, 4096, 40), 'source'));
  }
  const bigger = move('m', 'a', flavor(6, 6144, 60), 'destination', 'resize', 'grow');
  max.ok(bigger);
  t.deepEqual(usage(max.state), { vcpus: 6, memoryMb: 6144, diskGb: 60 });
  t.is(sum.refused(bigger).code, TrackerErrorCode.ComputeResourcesUnavailable);
  sum.ok(move('m', 'a', flavor(4, 4096, 40), 'destination'));
  t.deepEqual(usage(sum.state), { vcpus: 8, memoryMb: 8192, diskGb: 80 });
});

test('tracker - same-host resize without an explicit source claim keeps the old flavor for a revert at finish', (t) => {
  const h = new Host(undefined, { sameHostResize: 'sum' });
  h.ok(claim('a', SMALL));
  h.ok(move('m', 'a', LARGE, 'destination'));
  t.deepEqual(usage(h.state), { vcpus: 5, memoryMb: 1024 + 8192, diskGb: 50 });
  const ev = h.ok(finish('m'));
  t.like(ev[0], { type: 'MoveFinished', heldForRevert: { side: 'source', flavor: SMALL } });
  t.deepEqual(h.keys(), ['instance:a', 'move:m:source']);
  t.deepEqual(usage(h.state), { vcpus: 5, memoryMb: 1024 + 8192, diskGb: 50 });
  h.ok(drop('m', 'source'));
  t.deepEqual(usage(h.state), times(LARGE, 1));
});

test('tracker - same-host rebuild with the same flavor holds nothing more (max)', (t) => {
  const h = new Host();
  h.ok(claim('a', MEDIUM));
  h.ok(move('rb', 'a', MEDIUM, 'destination', 'rebuild'));
  t.deepEqual(usage(h.state), times(MEDIUM, 1));
  h.ok(finish('rb'));
  t.deepEqual(usage(h.state), times(MEDIUM, 1));
  h.ok(drop('rb', 'source'));
  t.deepEqual(h.keys(), ['instance:a']);
  t.deepEqual(usage(h.state), times(MEDIUM, 1));
});
