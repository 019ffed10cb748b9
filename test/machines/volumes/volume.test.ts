/** The volume's rules, pure (machines/volumes): what each change allows and leaves. */
import test from 'ava';
import {
  attached,
  attaching,
  beginDelete,
  beginExtend,
  detaching,
  extended,
  nextDevice,
  release,
  reserve,
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
