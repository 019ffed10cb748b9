/**
 * The QEMU capabilities cache private libvirt daemons share (virt/libvirt/capabilities-cache.ts),
 * with `start` standing in for the daemon: it writes what a probing libvirtd writes. Real daemons
 * sharing it are in libvirt.test.ts.
 */
import test from 'ava';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSharedCapabilities } from '../../virt/libvirt/capabilities-cache.js';

const capsDir = (root: string) => join(root, 'cache', 'qemu', 'capabilities');
const scratch = () => mkdtemp(join(tmpdir(), 'novactor-caps-'));

/** A daemon start that probes (writes the file) unless the file is there already; says which. */
function fakeStart(root: string, log: string[], name: string) {
  return async () => {
    const file = join(capsDir(root), 'qemu.xml');
    const seeded = existsSync(file);
    log.push(`${name} start ${seeded ? 'seeded' : 'probing'}`);
    await new Promise((r) => setTimeout(r, 50));
    if (!seeded) {
      mkdirSync(capsDir(root), { recursive: true });
      writeFileSync(file, `<qemuCaps probedBy="${name}"/>`);
    }
    log.push(`${name} ready`);
    return name;
  };
}

test('capabilities cache - the first daemon probes alone; the others start from its copy', async (t) => {
  const dir = await scratch();
  const shared = join(dir, 'shared');
  const log: string[] = [];
  const roots = ['a', 'b', 'c'].map((n) => join(dir, n));
  const started = await Promise.all(
    roots.map((root, i) => withSharedCapabilities(root, fakeStart(root, log, `d${i}`), shared)),
  );
  t.deepEqual(started, ['d0', 'd1', 'd2']);
  const probing = log.filter((l) => l.endsWith('probing'));
  t.is(probing.length, 1, log.join('; '));
  const prober = probing[0]!.split(' ')[0]!;
  // Nobody started before the prober was ready.
  t.is(log.indexOf(`${prober} ready`), 1, log.join('; '));
  t.deepEqual(readdirSync(shared), ['qemu.xml']);
  for (const root of roots)
    t.is(readFileSync(join(capsDir(root), 'qemu.xml'), 'utf8'), `<qemuCaps probedBy="${prober}"/>`);
  t.false(existsSync(`${shared}.lock`), 'the lock is released');
});

test('capabilities cache - a file the daemon probed again replaces the machine copy', async (t) => {
  const dir = await scratch();
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'qemu.xml'), '<qemuCaps stale/>');
  const root = join(dir, 'r');
  await withSharedCapabilities(
    root,
    async () => {
      t.is(readFileSync(join(capsDir(root), 'qemu.xml'), 'utf8'), '<qemuCaps stale/>', 'seeded before start');
      writeFileSync(join(capsDir(root), 'qemu.xml'), '<qemuCaps fresh/>'); // libvirt found it stale
    },
    shared,
  );
  t.is(readFileSync(join(shared, 'qemu.xml'), 'utf8'), '<qemuCaps fresh/>');
});

test('capabilities cache - a lock left by a dead process is taken over; a failed start releases it', async (t) => {
  const dir = await scratch();
  const shared = join(dir, 'shared');
  mkdirSync(`${shared}.lock`);
  writeFileSync(join(`${shared}.lock`, 'pid'), '2147483646'); // no such process
  const root = join(dir, 'r');
  await t.throwsAsync(
    withSharedCapabilities(root, () => Promise.reject(new Error('libvirtd exited')), shared),
    { message: 'libvirtd exited' },
  );
  t.false(existsSync(`${shared}.lock`));
  const log: string[] = [];
  t.is(await withSharedCapabilities(root, fakeStart(root, log, 'again'), shared), 'again');
  t.deepEqual(log, ['again start probing', 'again ready']);
});
