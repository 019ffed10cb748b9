/**
 * I8 over a live migration (docs/audit.md): two attachments of one instance to one volume are
 * accepted only while its live migration is open, one on each of its hosts; otherwise — a
 * destination attachment left by a rollback, a source one left by the end — they are a violation.
 */
import test from 'ava';
import { audit, type Observation } from '../../../machines/audit/index.js';
import type { VolumeAttachment, VolumeRecord } from '../../../protocol/index.js';
import { consistent, migration, record } from './cloud.js';

const attachment = (host: string, over: Partial<VolumeAttachment> = {}): VolumeAttachment => ({
  attachmentId: `att-${host}`,
  instanceId: 'a',
  host,
  device: 'vdb',
  status: 'attached',
  deleteOnTermination: false,
  attachedAt: 1,
  ...over,
});
const volume = (attachments: VolumeAttachment[]): VolumeRecord => ({
  volumeId: 'v-1',
  name: 'data',
  project: 'demo',
  user: 'alice',
  sizeGb: 1,
  status: attachments.length > 0 ? 'in-use' : 'available',
  multiattach: false,
  format: 'raw',
  path: '/tmp/v-1.raw',
  attachments,
  createdAt: 1,
  updatedAt: 1,
});
/**
 * Instance `a` on `host`, listing v-1 on vdb, with `attachments`, and its live migration h1 → h2
 * at `status` (none: no migration).
 */
function observed(
  host: string,
  attachments: VolumeAttachment[],
  status?: 'running' | 'finished' | 'failed',
): Observation {
  const o = consistent([
    record('a', { host, blockDevices: [{ volumeId: 'v-1', device: 'vdb', deleteOnTermination: false }] }),
  ]);
  const live = status
    ? [migration('m-1', 'a', { kind: 'live-migration', status, newFlavor: o.instances[0]!.flavor, commandId: 'lm' })]
    : [];
  return { ...o, migrations: [...o.migrations, ...live], volumes: [volume(attachments)] };
}
const i8 = (o: Observation) =>
  audit(o)
    .violations.filter((v) => v.invariant === 'I8')
    .map((v) => v.detail);

test('audit I8 - one attachment, on the instance host, is clean', (t) => {
  t.deepEqual(i8(observed('h1', [attachment('h1')])), []);
});

test('audit I8 - during an open live migration: the source attached, the destination attaching or attached', (t) => {
  t.deepEqual(i8(observed('h1', [attachment('h1'), attachment('h2', { status: 'attaching' })], 'running')), []);
  // Handed off: the instance on h2, its post step completing h2's before h1's goes.
  t.deepEqual(i8(observed('h2', [attachment('h1'), attachment('h2')], 'finished')), []);
  t.deepEqual(i8(observed('h2', [attachment('h1'), attachment('h2', { status: 'attaching' })], 'finished')), []);
});

test('audit I8 - two attachments of one instance with no live migration open: a violation', (t) => {
  // A rollback that left the destination's attachment.
  const leaked = i8(observed('h1', [attachment('h1'), attachment('h2', { status: 'attaching' })], 'failed'));
  t.true(
    leaked.some((d) => /2 attachments of instance a .* no live migration of it is open/.test(d)),
    leaked.join('\n'),
  );
  t.true(leaked.some((d) => /is attaching/.test(d)));
  // The end that left the source's.
  const left = i8(observed('h2', [attachment('h1'), attachment('h2')]));
  t.true(left.some((d) => /no live migration of it is open/.test(d)));
  t.true(left.some((d) => /names host h1, the instance's guest runs on h2/.test(d)));
});

test('audit I8 - an open live migration has one attachment on each of its hosts, no more', (t) => {
  const both = i8(observed('h1', [attachment('h1'), attachment('h1', { attachmentId: 'x' })], 'running'));
  t.true(
    both.some((d) => /one on each of h1 and h2/.test(d)),
    both.join('\n'),
  );
  t.true(i8(observed('h1', [attachment('h1'), attachment('h3')], 'running')).some((d) => /names host h3/.test(d)));
  // The source's is not `attaching`: only the destination's new one may be.
  t.true(
    i8(observed('h1', [attachment('h1', { status: 'attaching' }), attachment('h2')], 'running')).some((d) =>
      /is attaching/.test(d),
    ),
  );
});
