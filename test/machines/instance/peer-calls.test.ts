/**
 * The callee's check of another host's call (machines/instance/peer-calls.ts), on machine
 * snapshots reached through the machine itself: each legitimate call of a move step passes,
 * and every call the records do not back is refused (or, when the callee's read is older than
 * the caller's, answered "behind").
 */
import test from 'ava';
import {
  inFlightStep,
  instanceMachine,
  judgePeerCall,
  type PeerCall,
  type PeerRecords,
  type StepName,
} from '../../../machines/instance/index.js';
import type { MigrationRecord } from '../../../protocol/index.js';
import { active, FLAVOR, Run } from './driver.js';

const LARGE = { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 40 };
const midOf = (instanceId: string, opId: string) => `m-${instanceId}-${opId}`;

/** Drives `r` (completing steps) until `step` is in flight. */
function until(r: Run, step: StepName): void {
  for (let i = 0; i < 20; i++) {
    const f = inFlightStep(r.snap);
    if (f?.step === step) return;
    if (!f && step === 'confirmSource') {
      r.cmd('confirm_resize'); // RESIZED (VERIFY_RESIZE), waiting for the user
      continue;
    }
    if (!f) throw new Error(`no step in flight before ${step}`);
    r.send({
      type: 'STEP_DONE',
      ts: ++r.ts,
      step: f.step,
      key: f.key,
      ...(f.step === 'moveClaim'
        ? { result: { dest: 'h2', flavor: r.snap.context.move?.kind === 'resize' ? LARGE : FLAVOR } }
        : {}),
    });
  }
  throw new Error(`${step} never came`);
}

/** A move of i-1 from h1 to h2, brought to `step`, with the records as the callee reads them. */
function moveAt(
  kind: 'resize' | 'live',
  step: StepName,
  then?: (r: Run) => void,
  ownerIs?: string,
): { r: Run; records: PeerRecords; call: (op: PeerCall['op'], caller: string, callee: string) => PeerCall } {
  const r = active();
  if (kind === 'resize') r.cmd('resize', { flavor: LARGE.name });
  else r.cmd('live_migrate', {}, { isAdmin: true });
  then?.(r);
  until(r, step);
  const move = r.snap.context.move!;
  const owner = ownerIs ?? (['confirmSource', 'postLiveMigration', 'finishResize'].includes(step) ? 'h2' : 'h1');
  const migration: MigrationRecord = {
    migrationId: midOf('i-1', move.opId),
    instanceId: 'i-1',
    project: 'demo',
    kind: kind === 'live' ? 'live-migration' : 'resize',
    status: step === 'moveClaim' ? 'pre-migrating' : kind === 'live' ? 'preparing' : 'finished',
    sourceHost: 'h1',
    destHost: step === 'moveClaim' ? null : 'h2',
    oldFlavor: FLAVOR,
    newFlavor: kind === 'live' ? FLAVOR : LARGE,
    commandId: move.opId,
    createdAt: 1,
    updatedAt: 1,
  };
  // The persisted form, as it comes back from the bucket.
  const machine: unknown = JSON.parse(JSON.stringify(instanceMachine.getPersistedSnapshot(r.snap)));
  const records: PeerRecords = {
    instance: { value: { owner: `host:${owner}`, epoch: owner === 'h2' ? 3 : 2, machine }, revision: 40 },
    migration,
  };
  const key = inFlightStep(r.snap)!.key;
  const call = (op: PeerCall['op'], caller: string, callee: string): PeerCall => ({
    op,
    caller,
    callee,
    instanceId: 'i-1',
    migrationId: migration.migrationId,
    epoch: records.instance!.value.epoch,
    revision: 40,
    stepKey: key,
  });
  return { r, records, call };
}

const judge = (call: PeerCall, records: PeerRecords) => judgePeerCall(call, records, midOf);
const refused = (call: PeerCall, records: PeerRecords) => {
  const v = judge(call, records);
  return !v.ok && !v.behind;
};

test('legitimate calls pass: confirm and a live migration post step destroy the source guest, a live rollback the incoming one, preLiveMigration prepares the destination', (t) => {
  const confirm = moveAt('resize', 'confirmSource');
  t.deepEqual(judge(confirm.call('destroyGuest', 'h2', 'h1'), confirm.records), { ok: true });
  const pre = moveAt('live', 'liveMigrate');
  t.deepEqual(judge(pre.call('preLiveMigration', 'h1', 'h2'), pre.records), { ok: true });
  const post = moveAt('live', 'postLiveMigration');
  t.deepEqual(judge(post.call('destroyGuest', 'h2', 'h1'), post.records), { ok: true });
  const rollback = moveAt('live', 'moveRollback', (run) => {
    until(run, 'liveMigrate');
    const f = inFlightStep(run.snap)!;
    run.send({
      type: 'STEP_FAILED',
      ts: ++run.ts,
      step: f.step,
      key: f.key,
      error: { code: 'MigrationCancelled', message: 'aborted' },
    });
  });
  t.deepEqual(judge(rollback.call('destroyGuest', 'h1', 'h2'), rollback.records), { ok: true });
  t.true(refused(rollback.call('destroyGuest', 'h2', 'h1'), rollback.records)); // never the source's guest, and h2 owns nothing
  // a delete while RESIZED (on the destination): the source's guest goes
  const del = moveAt(
    'resize',
    'cleanupMove',
    (run) => {
      until(run, 'finishResize');
      run.step();
      run.cmd('delete');
    },
    'h2',
  );
  t.deepEqual(judge(del.call('destroyGuest', 'h2', 'h1'), del.records), { ok: true });
  // a later read (a newer revision, e.g. an abort written meanwhile) does not refuse the step still running
  t.deepEqual(judge({ ...pre.call('preLiveMigration', 'h1', 'h2'), revision: 12 }, pre.records), { ok: true });
});

test('a guest in no move: refused', (t) => {
  const r = active();
  const machine: unknown = JSON.parse(JSON.stringify(instanceMachine.getPersistedSnapshot(r.snap)));
  const records: PeerRecords = {
    instance: { value: { owner: 'host:h1', epoch: 1, machine }, revision: 5 },
    migration: undefined,
  };
  t.true(
    refused(
      {
        op: 'destroyGuest',
        caller: 'h2',
        callee: 'h1',
        instanceId: 'i-1',
        migrationId: 'm',
        epoch: 1,
        revision: 5,
        stepKey: 'i-1:boot-1:confirmSource',
      },
      records,
    ),
  );
  // even when the caller names the owner as itself, the records say otherwise
  t.true(
    refused(
      {
        op: 'destroyGuest',
        caller: 'h1',
        callee: 'h1',
        instanceId: 'i-1',
        migrationId: 'm',
        epoch: 1,
        revision: 5,
        stepKey: 'x',
      },
      records,
    ),
  );
  t.true(
    refused(
      {
        op: 'destroyGuest',
        caller: 'h2',
        callee: 'h1',
        instanceId: 'i-1',
        migrationId: 'm',
        epoch: 1,
        revision: 5,
        stepKey: 'x',
      },
      { instance: undefined, migration: undefined },
    ),
  );
});

test('a caller that is no party to the move is refused, as is the callee being the wrong side', (t) => {
  const c = moveAt('resize', 'confirmSource');
  t.true(refused(c.call('destroyGuest', 'h3', 'h1'), c.records)); // h3 owns nothing
  t.true(refused(c.call('destroyGuest', 'h2', 'h3'), c.records)); // h3 is no side of the move
  const rb = moveAt('live', 'liveMigrate');
  t.true(refused(rb.call('destroyGuest', 'h1', 'h2'), rb.records)); // liveMigrate does not destroy
});

test('a stale call: another epoch, another step, another migration, a closed live migration', (t) => {
  const c = moveAt('resize', 'confirmSource');
  t.true(refused({ ...c.call('destroyGuest', 'h2', 'h1'), epoch: 2 }, c.records));
  t.true(refused({ ...c.call('destroyGuest', 'h2', 'h1'), stepKey: 'i-1:other:confirmSource' }, c.records));
  t.true(refused({ ...c.call('destroyGuest', 'h2', 'h1'), migrationId: 'm-other' }, c.records));
  const pre = moveAt('live', 'liveMigrate');
  t.true(
    refused(pre.call('preLiveMigration', 'h1', 'h2'), {
      ...pre.records,
      migration: { ...pre.records.migration!, status: 'cancelled' },
    }),
  );
  t.true(
    refused(pre.call('preLiveMigration', 'h1', 'h3'), {
      ...pre.records,
      migration: { ...pre.records.migration!, destHost: 'h3' },
    }),
  );
});

test('after a revert the instance is back on the callee: a late destroy from the old destination is refused', (t) => {
  const c = moveAt('resize', 'confirmSource');
  const call = c.call('destroyGuest', 'h2', 'h1');
  // reverted: the record is h1's again, at a newer epoch and revision, in no move
  const back = active();
  const machine: unknown = JSON.parse(JSON.stringify(instanceMachine.getPersistedSnapshot(back.snap)));
  t.true(
    refused(call, {
      instance: { value: { owner: 'host:h1', epoch: 4, machine }, revision: 60 },
      migration: { ...c.records.migration!, status: 'reverted' },
    }),
  );
});

test('a read older than the caller\'s is "behind" (retry), not a refusal', (t) => {
  const c = moveAt('resize', 'confirmSource');
  const v = judge({ ...c.call('destroyGuest', 'h2', 'h1'), revision: 41 }, c.records);
  t.deepEqual(v.ok ? undefined : v.behind, true);
  const w = judge({ ...c.call('destroyGuest', 'h2', 'h1'), epoch: 4 }, c.records);
  t.deepEqual(w.ok ? undefined : w.behind, true);
});

test('tracker calls between hosts: the source asks a destination for its side while it picks one; the side that goes is dropped in the steps that drop it', (t) => {
  const claim = moveAt('resize', 'moveClaim');
  const ask = { ...claim.call('moveClaim', 'h1', 'h2'), side: 'destination' as const };
  t.deepEqual(judge(ask, claim.records), { ok: true });
  t.true(refused({ ...ask, side: 'source' }, claim.records), "the source side is the source host's own");
  t.true(refused({ ...ask, caller: 'h3' }, claim.records), 'only the owner picks');
  t.true(
    refused(ask, { ...claim.records, migration: { ...claim.records.migration!, destHost: 'h3' } }),
    'a destination already chosen',
  );
  const behindRead = judge(ask, { ...claim.records, migration: undefined });
  t.true(!behindRead.ok && behindRead.behind, 'the migration record just created may not be read yet');

  const confirm = moveAt('resize', 'confirmSource');
  const drop = { ...confirm.call('dropMoveClaim', 'h2', 'h1'), side: 'source' as const };
  t.deepEqual(judge(drop, confirm.records), { ok: true });
  t.true(refused({ ...drop, side: 'destination' }, confirm.records), 'h1 holds the source side');
  t.true(refused({ ...drop, caller: 'h3' }, confirm.records));
  // the same drop while the move waits for the user (no step): refused
  const idle = moveAt('resize', 'finishResize');
  idle.r.step();
  const machine: unknown = JSON.parse(JSON.stringify(instanceMachine.getPersistedSnapshot(idle.r.snap)));
  t.true(
    refused(drop, { ...confirm.records, instance: { value: { owner: 'host:h2', epoch: 3, machine }, revision: 41 } }),
  );
});
