import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  createDriver,
  isVirtError,
  PowerState,
  ProcessDriver,
  VirtErrorCode,
  type HypervisorDriver,
} from '../../virt/index.js';
import { scanGuests, readGuest } from '../../virt/proc.js';
import { conformance, expectCode, spec, type Rig } from './conformance.js';

const run = promisify(execFile);

// Hosts are unique per test (tests run concurrently) and per test run; the final check scans every host used.
const PREFIX = `vproc-${process.pid}`;
let hosts = 0;
const uniqueHost = (): string => `${PREFIX}-${++hosts}`;
const usedHosts: string[] = [];

let stateDir = '';
test.before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'novactor-virt-'));
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const stateLetter = async (pid: number): Promise<string | undefined> => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
};
const alive = async (pid: number): Promise<boolean> => {
  const s = await stateLetter(pid);
  return s !== undefined && s !== 'Z';
};

/**
 * A driver on a fresh host; teardown destroys whatever guests the host has left, through a fresh driver (the test's may
 * be closed).
 */
function newDriver(
  t: import('ava').ExecutionContext,
  host = uniqueHost(),
  extra: { stopGraceMs?: number; guestScript?: string } = {},
): HypervisorDriver {
  usedHosts.push(host);
  const make = (): HypervisorDriver =>
    createDriver('process', {
      host,
      stateDir,
      stopGraceMs: extra.stopGraceMs ?? 2000,
      ...(extra.guestScript ? { guestScript: extra.guestScript } : {}),
    });
  const driver = make();
  t.teardown(async () => {
    await driver.close();
    const cleaner = make();
    for (const g of await cleaner.list()) await cleaner.destroy(g.instanceId);
    await cleaner.close();
  });
  return driver;
}

conformance('virt process', async (t) => {
  const host = uniqueHost();
  const driver = newDriver(t, host);
  const rig: Rig = {
    driver,
    host,
    crash: async (id) => {
      const g = await driver.get(id);
      if (g?.pid === undefined) throw new Error(`no process for ${id}`);
      process.kill(g.pid, 'SIGKILL');
      const pid = g.pid;
      await until(async () => ((await alive(pid)) ? undefined : true), `pid ${pid} to die`);
    },
    reopen: () => new ProcessDriver({ host, stateDir }),
  };
  return rig;
});

test('virt process - the guest is a real process: marked command line, stopped (T) while paused, gone when off', async (t) => {
  const d = newDriver(t);
  const s = spec(d.host);
  const { pid } = await d.spawn(s);
  if (pid === undefined) return t.fail('no pid');
  t.true(await alive(pid));
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  t.true(cmdline.includes('--novactor-guest'));
  t.is(cmdline[cmdline.indexOf('--host') + 1], d.host);
  t.is(cmdline[cmdline.indexOf('--instance') + 1], s.instanceId);
  await d.pause(s.instanceId);
  t.is(await stateLetter(pid), 'T');
  await d.unpause(s.instanceId);
  t.not(await stateLetter(pid), 'T');
  await d.suspend(s.instanceId);
  t.is(await stateLetter(pid), 'T');
  await d.powerOff(s.instanceId);
  t.false(await alive(pid), 'power off from suspended still ends the process');
  const on = await d.powerOn(s.instanceId);
  t.not(on.pid, pid, 'power on starts a new process');
  t.true(await alive(on.pid ?? -1));
});

test('virt process - guests survive the death of the process that spawned them', async (t) => {
  const host = uniqueHost();
  const d = newDriver(t, host);
  const s = spec(host);
  const driverUrl = new URL('../../virt/index.js', import.meta.url).href;
  const code = `
    import { createDriver } from ${JSON.stringify(driverUrl)};
    const d = createDriver('process', { host: ${JSON.stringify(host)}, stateDir: ${JSON.stringify(stateDir)} });
    const g = await d.spawn(${JSON.stringify(s)});
    await d.pause(${JSON.stringify(s.instanceId)});
    process.stdout.write(String(g.pid));
  `;
  const child = await run(process.execPath, ['--input-type=module', '-e', code]);
  const pid = Number(child.stdout);
  t.true(pid > 0);
  t.true(await alive(pid), 'the guest outlived its spawner');
  const [found] = await d.list();
  t.like(found, { instanceId: s.instanceId, pid, powerState: 'paused', flavor: s.flavor });
  t.is((await d.unpause(s.instanceId)).powerState, PowerState.Running);
});

test('virt process - a guest whose state file is lost is still listed (an orphan) and destroy removes it', async (t) => {
  const d = newDriver(t);
  const s = spec(d.host);
  const { pid } = await d.spawn(s);
  await rm(join(stateDir, d.host, `${s.instanceId}.json`));
  const [orphan] = await d.list();
  t.like(orphan, { instanceId: s.instanceId, name: s.name, flavor: s.flavor, powerState: 'running', pid });
  t.is((await d.spawn(s)).pid, pid, 'spawn adopts the orphan rather than starting a second guest');
  await d.destroy(s.instanceId);
  t.false(await alive(pid ?? -1));
  t.deepEqual(await d.list(), []);
});

test('virt process - kill -9 of a guest is seen as crashed, a power off as shutdown', async (t) => {
  const d = newDriver(t);
  const a = await d.spawn(spec(d.host, 1));
  const b = await d.spawn(spec(d.host, 2));
  process.kill(a.pid ?? -1, 'SIGKILL');
  await until(
    async () => ((await d.get(a.instanceId))?.powerState === PowerState.Crashed ? true : undefined),
    'crashed',
  );
  await d.powerOff(b.instanceId);
  const states = Object.fromEntries((await d.list()).map((g) => [g.instanceId, g.powerState]));
  t.deepEqual(states, { [a.instanceId]: 'crashed', [b.instanceId]: 'shutdown' });
});

test('virt process - a guest that ignores SIGTERM is killed after the grace period', async (t) => {
  const script = join(stateDir, 'stubborn-guest.mjs');
  const ready = join(stateDir, 'stubborn-guest.ready');
  // The guest says when its SIGTERM handler is installed (before that, the default action would end it at once).
  await writeFile(
    script,
    `import { writeFileSync } from 'node:fs'; process.on('SIGTERM', () => {}); writeFileSync(${JSON.stringify(ready)}, String(process.pid)); setInterval(() => {}, 1 << 30);\n`,
  );
  const d = newDriver(t, uniqueHost(), { stopGraceMs: 300, guestScript: script });
  const { pid } = await d.spawn(spec(d.host));
  await until(
    async () => ((await readFile(ready, 'utf8').catch(() => '')) === String(pid) ? true : undefined),
    'the guest to install its SIGTERM handler',
  );
  const t0 = Date.now();
  t.is((await d.powerOff('inst-1')).powerState, PowerState.Shutdown);
  t.true(Date.now() - t0 >= 250, 'waited for the grace period');
  t.false(await alive(pid ?? -1));
});

test('virt process - a missing guest program fails SpawnFailed (terminal) and leaves no guest', async (t) => {
  const d = newDriver(t, uniqueHost(), { guestScript: join(stateDir, 'no-such-guest.js') });
  const err = await expectCode(t, d.spawn(spec(d.host)), VirtErrorCode.SpawnFailed);
  t.false(isVirtError(err) && err.retryable);
  t.deepEqual(await d.list(), []);
});

test('virt process - two hosts on one machine do not see each other', async (t) => {
  const a = newDriver(t);
  const b = newDriver(t);
  await a.spawn(spec(a.host, 1));
  await b.spawn(spec(b.host, 1));
  t.deepEqual(
    (await a.list()).map((g) => g.host),
    [a.host],
  );
  await b.destroy('inst-1');
  t.is((await a.get('inst-1'))?.powerState, PowerState.Running);
});

test('virt process - readGuest rejects processes that are not guests', async (t) => {
  t.is(await readGuest(process.pid), undefined);
  t.is(await readGuest(999_999_999), undefined);
});

test.after.always('virt process - no guest process is left behind', async (t) => {
  const leftovers = (await Promise.all(usedHosts.map((h) => scanGuests(h)))).flat();
  // Clean up anyway so a failure here does not leak processes into the next run.
  for (const g of leftovers) process.kill(g.pid, 'SIGKILL');
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  t.deepEqual(
    leftovers.map((g) => `${g.host}/${g.instanceId}`),
    [],
  );
});
