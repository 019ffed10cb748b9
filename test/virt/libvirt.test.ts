/**
 * The libvirt driver with real QEMU guests (TCG without /dev/kvm): the conformance suite every
 * driver passes, then what only a real hypervisor shows — the guest's own console line, its
 * QEMU process, a QEMU killed under libvirt, and guests that outlive their daemon's restart.
 * Each test gets a private libvirtd (virt/libvirt/daemon.ts). As root, scripts/ensure-libvirt
 * installs what is missing; in CI (CI=true) a machine that cannot run them fails here;
 * elsewhere the file is skipped, saying why.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerState } from '../../virt/index.js';
import { LibvirtDriver, type LibvirtDriverConfig } from '../../virt/libvirt/driver.js';
import { libvirtUnavailable, startPrivateLibvirtd, type PrivateLibvirtd } from '../../virt/libvirt/daemon.js';
import { GUEST_UP } from '../../virt/libvirt/guest-image.js';
import { GUEST_BANNER, RESCUE_BANNER } from '../../virt/libvirt/disks.js';
import { conformance, spec, type Rig } from './conformance.js';
import { eventually } from '../helpers/eventually.js';

const unavailable = (() => {
  if (process.getuid?.() === 0) {
    try {
      execFileSync('bash', ['scripts/ensure-libvirt'], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      // libvirtUnavailable() says what is missing
    }
  }
  return libvirtUnavailable();
})();

let hosts = 0;
const roots: string[] = [];

/** A private libvirtd and a driver over it, for one test; everything is torn down after it. */
async function rig(
  t: ExecutionContext,
): Promise<Rig & { driver: LibvirtDriver; daemon: PrivateLibvirtd; config: LibvirtDriverConfig }> {
  const root = await mkdtemp(join(tmpdir(), 'novactor-libvirt-'));
  roots.push(root);
  const daemon = await startPrivateLibvirtd({ root });
  const host = `lv${process.pid}-${++hosts}`;
  // The built-in guest never answers ACPI: a clean shutdown falls back to destroy after this.
  const config: LibvirtDriverConfig = {
    host,
    uri: daemon.uri,
    instancesDir: join(root, 'instances'),
    shutdownTimeoutMs: 1000,
  };
  const driver = new LibvirtDriver(config);
  t.teardown(async () => {
    const d = new LibvirtDriver(config);
    for (const g of await d.list().catch(() => [])) await d.destroy(g.instanceId).catch(() => undefined);
    await d.close();
    await daemon.stop();
    killQemusUnder(root);
    await rm(root, { recursive: true, force: true });
  });
  return {
    driver,
    host,
    daemon,
    config,
    reopen: () => new LibvirtDriver(config),
    crash: async (instanceId) => {
      const pid = (await driver.get(instanceId))?.pid;
      if (pid === undefined) throw new Error(`${instanceId} has no QEMU process`);
      process.kill(pid, 'SIGKILL');
      await eventually(async () => {
        if ((await driver.get(instanceId))?.powerState !== PowerState.Crashed) throw new Error('not crashed yet');
      });
    },
  };
}

/** The QEMU processes whose command line names a path under `root` (a safety net after a test). */
function qemusUnder(root: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('qemu-system') && l.includes(`${root}/`))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}
function killQemusUnder(root: string): void {
  for (const pid of qemusUnder(root)) process.kill(pid, 'SIGKILL');
}

if (unavailable && process.env['CI'] === 'true') {
  test('virt libvirt - real libvirt and QEMU run on this machine', (t) => t.fail(unavailable));
} else if (unavailable) {
  test.skip(`virt libvirt - skipped: ${unavailable}`, () => undefined);
} else {
  conformance('virt libvirt', rig);

  test('virt libvirt - a real QEMU guest: its own console line, its UUID on the QEMU command line', async (t) => {
    const r = await rig(t);
    const s = { ...spec(r.host), instanceId: 'a1b2c3d4-0000-4000-8000-000000000001' };
    const g = await r.driver.spawn(s);
    t.truthy(g.pid);
    const cmdline = await readFile(`/proc/${g.pid}/cmdline`, 'utf8');
    t.true(cmdline.split('\0').includes(s.instanceId), 'QEMU runs with -uuid <instance id>');
    const line = `${GUEST_BANNER}${s.instanceId}${GUEST_UP}`;
    await eventually(async () => {
      if (!(await r.driver.consoleLog(s.instanceId)).includes(line)) throw new Error('no console line yet');
    });
    await r.driver.rescue(s.instanceId);
    await eventually(async () => {
      const log = await r.driver.consoleLog(s.instanceId);
      if (!log.includes(`${RESCUE_BANNER}${s.instanceId}${GUEST_UP}`)) throw new Error('no rescue line yet');
    });
    t.pass();
  });

  test('virt libvirt - destroy leaves no QEMU process and no file of the guest', async (t) => {
    const r = await rig(t);
    const s = spec(r.host);
    await r.driver.spawn(s);
    await r.driver.suspend(s.instanceId);
    await r.driver.destroy(s.instanceId);
    t.deepEqual(qemusUnder(r.config.instancesDir), []);
    t.false((await readdir(r.config.instancesDir)).includes(s.instanceId));
  });

  test('virt libvirt - guests outlive their libvirtd: kill -9 of the daemon, a new one finds them running', async (t) => {
    const r = await rig(t);
    const s = spec(r.host);
    const before = await r.driver.spawn(s);
    await r.daemon.kill9();
    t.is(process.kill(before.pid!, 0), true, 'QEMU still runs without its daemon');
    const again = await startPrivateLibvirtd({ root: r.daemon.root });
    t.teardown(() => again.stop());
    const d = r.reopen();
    t.like(await d.get(s.instanceId), { powerState: 'running', pid: before.pid });
    await d.close();
  });
}
