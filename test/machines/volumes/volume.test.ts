/** The volume's rules, pure (machines/volumes): what each change allows and leaves. */
import test from 'ava';
import {
  attached,
  attaching,
  beginDelete,
  beginExtend,
  completeMove,
  detaching,
  dropAttachment,
  extended,
  keepOnly,
  nextDevice,
  release,
  reserve,
  reserveMove,
  type VolumeChange,
} from '../../../machines/volumes/index.js';
import type { VolumeRecord } from '../../../protocol/index.js';

const vol = (over: Partial<VolumeRecord> = {}): VolumeRecord => ({
  volumeId: 'v-1',
  name: 'data',
  project: 'demo',
  user: 'alice',
  sizeGb: 2,
  status: 'available',
  multiattach: false,
  format: 'raw',
  path: '/tmp/v-1.raw',
  attachments: [],
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
const res = (instanceId: string) => ({
  attachmentId: `a-${instanceId}`,
  instanceId,
  host: 'h1',
  device: 'vdb',
  deleteOnTermination: false,
});
const next = (c: VolumeChange): VolumeRecord => {
  if (!c.ok || c.next === 'unchanged') throw new Error(JSON.stringify(c));
  return c.next;
};
const codeOf = (c: VolumeChange) => (c.ok ? 'ok' : c.refusal.code);

test('volume rules - reserve, attaching, attached, detaching, release walk the statuses', (t) => {
  let v = next(reserve(vol(), res('i-1'), 2));
  t.is(v.status, 'reserved');
  t.deepEqual(reserve(v, res('i-1'), 3), { ok: true, next: 'unchanged' }, 'a retry changes nothing');
  v = next(attaching(v, 'i-1', 3));
  t.is(v.status, 'attaching');
  v = next(attached(v, 'i-1', 4));
  t.is(v.status, 'in-use');
  t.deepEqual(attached(v, 'i-1', 5), { ok: true, next: 'unchanged' });
  t.deepEqual(attaching(v, 'i-1', 5), { ok: true, next: 'unchanged' }, 'an attach run again after it completed');
  t.is(codeOf(beginDelete(v, 5)), 'VolumeInUse', 'never deleted while attached');
  t.is(codeOf(beginExtend(v, 3, 5)), 'VolumeInvalidState');
  v = next(detaching(v, 'i-1', 5));
  t.is(v.status, 'detaching');
  t.is(codeOf(reserve(v, res('i-1'), 6)), 'VolumeInvalidState');
  v = next(release(v, 'i-1', 6));
  t.is(v.status, 'available');
  t.deepEqual(v.attachments, []);
  t.deepEqual(release(v, 'i-1', 7), { ok: true, next: 'unchanged' });
});

test('volume rules - a second instance is refused unless the volume is multiattach', (t) => {
  const one = next(reserve(vol(), res('i-1'), 2));
  t.is(codeOf(reserve(one, res('i-2'), 3)), 'VolumeInUse');
  const multi = next(reserve(vol({ multiattach: true }), res('i-1'), 2));
  const two = next(reserve(next(attached(multi, 'i-1', 3)), res('i-2'), 4));
  t.is(two.attachments.length, 2);
  t.is(two.status, 'in-use', 'one attached, one reserved: in-use');
});

test('volume rules - states that refuse an attach, a delete, an extend', (t) => {
  for (const status of ['creating', 'extending', 'deleting', 'error'] as const)
    t.is(codeOf(reserve(vol({ status }), res('i-1'), 2)), 'VolumeInvalidState', status);
  t.is(codeOf(beginExtend(vol(), 2, 2)), 'InvalidInput', 'not a growth');
  const ext = next(beginExtend(vol(), 4, 2));
  t.is(ext.status, 'extending');
  t.is(codeOf(beginDelete(ext, 3)), 'VolumeInvalidState');
  t.deepEqual(next(extended(ext, 3)), { ...vol(), sizeGb: 4, updatedAt: 3 });
  t.is(next(beginDelete(vol({ status: 'error' }), 2)).status, 'deleting');
  t.is(codeOf(attaching(vol(), 'i-1', 2)), 'VolumeNotAttached');
});

test('volume rules - devices after the root', (t) => {
  t.is(nextDevice([]), 'vdb');
  t.is(nextDevice(['vdb', 'vdc']), 'vdd');
  t.is(nextDevice(['vdc']), 'vdb');
  const many = Array.from({ length: 25 }, (_, i) => `vd${String.fromCharCode(98 + i)}`).slice(0, 25);
  t.is(nextDevice(many.filter((d) => d <= 'vdz')), 'vdaa');
});

test('volume rules - a live migration: a second attachment of the instance, completed, then one of two kept', (t) => {
  const src = next(attached(next(reserve(vol(), res('i-1'), 2)), 'i-1', 3));
  const dest = { ...res('i-1'), attachmentId: 'a-i-1-m1', host: 'h2' };
  // Not multiattach, and attached to i-1 already: its own second attachment is not refused.
  let v = next(reserveMove(src, dest, 4));
  t.deepEqual(
    v.attachments.map((a) => [a.attachmentId, a.host, a.status]),
    [
      ['a-i-1', 'h1', 'attached'],
      ['a-i-1-m1', 'h2', 'attaching'],
    ],
  );
  t.is(v.status, 'in-use');
  t.deepEqual(reserveMove(v, dest, 5), { ok: true, next: 'unchanged' }, 'a re-run finds its own');
  t.is(codeOf(reserve(v, res('i-2'), 5)), 'VolumeInUse', 'still not for another instance');
  t.is(codeOf(reserveMove(v, { ...res('i-2'), attachmentId: 'a-i-2-m2' }, 5)), 'VolumeInUse');
  // Rollback: the new one goes, the old is untouched.
  t.deepEqual(next(dropAttachment(v, 'a-i-1-m1', 6)).attachments, src.attachments);
  t.deepEqual(dropAttachment(src, 'a-i-1-m1', 6), { ok: true, next: 'unchanged' });
  // Success: completed, then the source's dropped.
  v = next(completeMove(v, 'a-i-1-m1', 6));
  t.deepEqual(completeMove(v, 'a-i-1-m1', 7), { ok: true, next: 'unchanged' });
  v = next(keepOnly(v, 'i-1', 'a-i-1-m1', 7));
  t.deepEqual(
    v.attachments.map((a) => [a.attachmentId, a.host, a.status]),
    [['a-i-1-m1', 'h2', 'attached']],
  );
  t.deepEqual(keepOnly(v, 'i-1', 'a-i-1-m1', 8), { ok: true, next: 'unchanged' });
  // Never the last one: no destination attachment (a migration begun before they were doubled).
  t.deepEqual(keepOnly(src, 'i-1', 'a-i-1-m1', 8), { ok: true, next: 'unchanged' });
  t.is(codeOf(completeMove(src, 'a-i-1-m1', 8)), 'VolumeNotAttached');
  t.is(next(detaching(v, 'i-1', 9)).status, 'detaching', 'a detach after the move finds the one left');
});
