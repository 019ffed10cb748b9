/**
 * The behaviour every HypervisorDriver must show, run against each driver by its test
 * file. Instance actors re-run steps after crashes, so idempotence and convergence are
 * checked for every operation, not only the happy path.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  PowerState,
  VirtErrorCode,
  isVirtError,
  type GuestInfo,
  type GuestSpec,
  type HypervisorDriver,
} from '../../virt/index.js';

/** One driver on a host of its own, with what the suite cannot do through the interface. */
export interface Rig {
  readonly driver: HypervisorDriver;
  readonly host: string;
  /** Makes a guest die under the hypervisor (kill -9 of its process); resolves once the driver can see it. */
  crash(instanceId: string): Promise<void>;
  /** A new driver over the same host, as after a compute worker restart. */
  reopen(): HypervisorDriver;
}

/** Builds a rig on a unique host and registers its cleanup (every guest destroyed) with `t.teardown`. */
export type RigFactory = (t: ExecutionContext) => Promise<Rig>;

export const spec = (host: string, n = 1, name = `vm-${n}`): GuestSpec => ({
  instanceId: `inst-${n}`,
  name,
  host,
  flavor: { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
  image: 'cirros',
});

/** Asserts a call fails with a VirtError of `code`; returns the error. */
export async function expectCode(t: ExecutionContext, p: Promise<unknown>, code: VirtErrorCode): Promise<unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.true(isVirtError(err, code), `expected ${code}, got ${String(err)}`);
  return err;
}

const state = async (d: HypervisorDriver, id: string): Promise<string | undefined> => (await d.get(id))?.powerState;

export function conformance(prefix: string, makeRig: RigFactory): void {
  const it = (name: string, fn: (t: ExecutionContext, rig: Rig) => Promise<void>): void => {
    test(`${prefix} - ${name}`, async (t) => fn(t, await makeRig(t)));
  };

  it('spawn starts a running guest that get and list report', async (t, { driver: d, host }) => {
    const s = spec(host);
    const info = await d.spawn(s);
    t.is(info.powerState, PowerState.Running);
    t.false(info.rescued);
    const got = await d.get(s.instanceId);
    t.like(got, {
      instanceId: s.instanceId,
      name: s.name,
      host,
      flavor: s.flavor,
      image: 'cirros',
      powerState: 'running',
    });
    t.deepEqual(
      (await d.list()).map((g) => g.instanceId),
      [s.instanceId],
    );
  });

  it('spawn is idempotent: a second spawn returns the same guest, never a second one', async (t, {
    driver: d,
    host,
  }) => {
    const s = spec(host);
    const a = await d.spawn(s);
    const b = await d.spawn(s);
    t.is(b.powerState, PowerState.Running);
    t.is(b.pid, a.pid);
    t.is((await d.list()).length, 1);
  });

  it(
    'a guest keeps its interfaces (get, list, ' + 'a new driver); bad ones are refused and make nothing',
    async (t, rig) => {
      const { driver: d, host } = rig;
      const network = `net-${host}`;
      const nics = [
        { portId: 'port-a', mac: 'fa:16:3e:00:00:0a', network },
        { portId: 'port-b', mac: 'fa:16:3e:00:00:0b', network },
      ];
      const s = { ...spec(host), nics };
      await d.spawn(s);
      t.deepEqual((await d.get(s.instanceId))?.nics, nics);
      t.deepEqual((await d.list())[0]?.nics, nics);
      t.deepEqual((await rig.reopen().get(s.instanceId))?.nics, nics);
      for (const bad of [
        [{ portId: 'p', mac: 'FA:16:3E:00:00:01', network }],
        [{ portId: 'p', mac: 'fa:16:3e:00:00', network }],
        [{ portId: 'p/x', mac: 'fa:16:3e:00:00:01', network }],
        [
          { portId: 'p', mac: 'fa:16:3e:00:00:01', network },
          { portId: 'q', mac: 'fa:16:3e:00:00:01', network },
        ],
      ])
        await expectCode(t, d.spawn({ ...spec(host, 2), nics: bad }), VirtErrorCode.InvalidSpec);
      t.is(await d.get(spec(host, 2).instanceId), undefined);
    },
  );

  it('concurrent spawns of one guest build it once', async (t, { driver: d, host }) => {
    const s = spec(host);
    const all = await Promise.all([d.spawn(s), d.spawn(s), d.spawn(s)]);
    t.true(all.every((g) => g.pid === all[0]?.pid));
    t.is((await d.list()).length, 1);
  });

  it('destroy removes the guest and succeeds when it is already gone', async (t, { driver: d, host }) => {
    const s = spec(host);
    await d.spawn(s);
    await d.destroy(s.instanceId);
    t.is(await d.get(s.instanceId), undefined);
    t.deepEqual(await d.list(), []);
    await d.destroy(s.instanceId);
    await d.destroy('never-existed');
    t.pass();
  });

  it('destroy works from every power state', async (t, { driver: d, host }) => {
    const ids: string[] = [];
    for (let n = 1; n <= 4; n++) ids.push((await d.spawn(spec(host, n))).instanceId);
    const [a, b, c, e] = ids as [string, string, string, string];
    await d.pause(b);
    await d.suspend(c);
    await d.powerOff(e);
    for (const id of [a, b, c, e]) await d.destroy(id);
    t.deepEqual(await d.list(), []);
  });

  it('absent guests: get is undefined, every state change fails GuestNotFound (not retryable)', async (t, {
    driver: d,
  }) => {
    t.is(await d.get('absent'), undefined);
    const calls: Array<() => Promise<unknown>> = [
      () => d.powerOff('absent'),
      () => d.powerOn('absent'),
      () => d.reboot('absent', 'SOFT'),
      () => d.reboot('absent', 'HARD'),
      () => d.pause('absent'),
      () => d.unpause('absent'),
      () => d.suspend('absent'),
      () => d.resume('absent'),
      () => d.rescue('absent'),
      () => d.unrescue('absent'),
      () => d.triggerCrashDump('absent'),
    ];
    for (const call of calls) {
      const err = await expectCode(t, call(), VirtErrorCode.GuestNotFound);
      t.false(isVirtError(err) && err.retryable);
    }
  });

  it('power off and on, each idempotent', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    t.is((await d.powerOff(id)).powerState, PowerState.Shutdown);
    t.is((await d.powerOff(id)).powerState, PowerState.Shutdown);
    t.is(await state(d, id), PowerState.Shutdown);
    t.truthy(await d.get(id), 'a powered-off guest still exists');
    t.is((await d.powerOn(id)).powerState, PowerState.Running);
    t.is((await d.powerOn(id)).powerState, PowerState.Running);
    t.is(await state(d, id), PowerState.Running);
  });

  it('pause and unpause, each idempotent', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    t.is((await d.pause(id)).powerState, PowerState.Paused);
    t.is((await d.pause(id)).powerState, PowerState.Paused);
    t.is(await state(d, id), PowerState.Paused);
    t.is((await d.unpause(id)).powerState, PowerState.Running);
    t.is((await d.unpause(id)).powerState, PowerState.Running);
    t.is(await state(d, id), PowerState.Running);
  });

  it('suspend and resume, each idempotent; a paused guest can be suspended', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    t.is((await d.suspend(id)).powerState, PowerState.Suspended);
    t.is((await d.suspend(id)).powerState, PowerState.Suspended);
    t.is(await state(d, id), PowerState.Suspended);
    t.is((await d.resume(id)).powerState, PowerState.Running);
    t.is((await d.resume(id)).powerState, PowerState.Running);
    await d.pause(id);
    t.is((await d.suspend(id)).powerState, PowerState.Suspended);
    t.is(await state(d, id), PowerState.Suspended);
    await d.resume(id);
    t.is(await state(d, id), PowerState.Running);
  });

  it('reboot: SOFT restarts a running guest; HARD brings any state back to running', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    t.is((await d.reboot(id, 'SOFT')).powerState, PowerState.Running);
    t.is((await d.reboot(id, 'SOFT')).powerState, PowerState.Running);
    for (const put of [() => d.pause(id), () => d.suspend(id), () => d.powerOff(id)]) {
      await put();
      t.is((await d.reboot(id, 'HARD')).powerState, PowerState.Running);
      t.is(await state(d, id), PowerState.Running);
    }
    t.is((await d.reboot(id, 'HARD')).powerState, PowerState.Running);
  });

  it('rescue and unrescue, each idempotent; reboot keeps the rescue', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    t.like(await d.rescue(id), { powerState: 'running', rescued: true });
    t.like(await d.rescue(id), { powerState: 'running', rescued: true });
    t.like(await d.reboot(id, 'HARD'), { powerState: 'running', rescued: true });
    t.like(await d.get(id), { powerState: 'running', rescued: true });
    t.like(await d.unrescue(id), { powerState: 'running', rescued: false });
    t.like(await d.unrescue(id), { powerState: 'running', rescued: false });
    await d.powerOff(id);
    t.like(await d.rescue(id), { powerState: 'running', rescued: true }, 'a stopped guest can be rescued');
  });

  it(
    'trigger crash dump: an NMI to a running or paused guest, ' + 'counted, state unchanged; refused when it is down',
    async (t, { driver: d, host }) => {
      const { instanceId: id } = await d.spawn(spec(host));
      const before = await d.get(id);
      t.like(await d.triggerCrashDump(id), { powerState: 'running', rescued: false, crashDumps: 1 });
      await d.pause(id);
      t.like(await d.triggerCrashDump(id), { powerState: 'paused', crashDumps: 2 });
      await d.unpause(id);
      const after = await d.get(id);
      t.like(after, { powerState: 'running', crashDumps: 2 }, 'the guest took both NMIs and kept running');
      t.is(after?.pid, before?.pid, 'the same guest, not a restarted one');
      await d.powerOff(id);
      const err = await expectCode(t, d.triggerCrashDump(id), VirtErrorCode.InvalidState);
      t.false(isVirtError(err) && err.retryable);
      t.like(await d.get(id), { powerState: 'shutdown', crashDumps: 2 }, 'a refused NMI is not counted');
    },
  );

  it('volumes (drivers that attach them): attached and detached idempotently, kept across power changes', async (t, {
    driver: d,
    host,
  }) => {
    if (!d.attachVolume || !d.detachVolume) {
      t.pass('this driver attaches no volumes');
      return;
    }
    const { instanceId: id } = await d.spawn(spec(host));
    const dir = await mkdtemp(join(tmpdir(), 'nv-vol-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'vol-1.raw');
    await writeFile(path, Buffer.alloc(1024 * 1024));
    const vol = { volumeId: 'vol-1', path, format: 'raw' as const, device: 'vdb' };
    await d.attachVolume(id, vol);
    await d.attachVolume(id, vol);
    t.deepEqual((await d.get(id))?.volumes, { 'vol-1': 'vdb' });
    await d.powerOff(id);
    await d.powerOn(id);
    t.deepEqual((await d.get(id))?.volumes, { 'vol-1': 'vdb' }, 'a volume stays through a power cycle');
    await d.detachVolume(id, 'vol-1');
    await d.detachVolume(id, 'vol-1');
    t.is((await d.get(id))?.volumes, undefined);
    await expectCode(t, d.attachVolume('absent', vol), VirtErrorCode.GuestNotFound);
    await d.detachVolume('absent', 'vol-1');
  });

  it(
    'interfaces (drivers that plug them): ' + 'plugged and unplugged idempotently, kept across power changes',
    async (t, rig) => {
      const { driver: d, host } = rig;
      if (!d.attachInterface || !d.detachInterface) {
        t.pass('this driver plugs no interfaces');
        return;
      }
      const network = `net-${host}`;
      const first = { portId: 'port-a', mac: 'fa:16:3e:00:01:0a', network };
      const plugged = { portId: 'port-b', mac: 'fa:16:3e:00:01:0b', network };
      const { instanceId: id } = await d.spawn({ ...spec(host), nics: [first] });
      await d.attachInterface(id, plugged);
      await d.attachInterface(id, plugged);
      t.deepEqual((await d.get(id))?.nics, [first, plugged]);
      t.deepEqual((await rig.reopen().get(id))?.nics, [first, plugged], 'a new driver sees it');
      await d.powerOff(id);
      await d.powerOn(id);
      t.deepEqual((await d.get(id))?.nics, [first, plugged], 'an interface stays through a power cycle');
      // What network-vif-plugged waits for: each interface wired on the host (libvirt: its tap on the bridge).
      if (d.wiredPorts) t.deepEqual((await d.wiredPorts(id)).sort(), ['port-a', 'port-b'], 'both wired');
      await d.detachInterface(id, 'port-a');
      await d.detachInterface(id, 'port-a');
      t.deepEqual((await d.get(id))?.nics, [plugged]);
      if (d.wiredPorts) {
        t.deepEqual(await d.wiredPorts(id), ['port-b'], 'the unplugged one is not');
        t.deepEqual(await d.wiredPorts('absent'), [], 'a guest absent has none');
      }
      await expectCode(t, d.attachInterface('absent', plugged), VirtErrorCode.GuestNotFound);
      await expectCode(t, d.attachInterface(id, { ...plugged, mac: 'FA:16' }), VirtErrorCode.InvalidSpec);
      await d.detachInterface('absent', 'port-b');
    },
  );

  it('invalid transitions fail InvalidState (terminal) and leave the guest as it was', async (t, {
    driver: d,
    host,
  }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    const cases: Array<[PowerState, () => Promise<unknown>, string]> = [
      [PowerState.Shutdown, () => d.pause(id), 'pause shutdown'],
      [PowerState.Shutdown, () => d.unpause(id), 'unpause shutdown'],
      [PowerState.Shutdown, () => d.suspend(id), 'suspend shutdown'],
      [PowerState.Shutdown, () => d.resume(id), 'resume shutdown'],
      [PowerState.Shutdown, () => d.reboot(id, 'SOFT'), 'soft reboot shutdown'],
      [PowerState.Paused, () => d.powerOn(id), 'power on paused'],
      [PowerState.Paused, () => d.resume(id), 'resume paused'],
      [PowerState.Paused, () => d.reboot(id, 'SOFT'), 'soft reboot paused'],
      [PowerState.Paused, () => d.rescue(id), 'rescue paused'],
      [PowerState.Suspended, () => d.unpause(id), 'unpause suspended'],
      [PowerState.Suspended, () => d.pause(id), 'pause suspended'],
      [PowerState.Suspended, () => d.powerOn(id), 'power on suspended'],
    ];
    const put = async (s: PowerState): Promise<GuestInfo> => {
      await d.reboot(id, 'HARD');
      if (s === PowerState.Shutdown) return d.powerOff(id);
      if (s === PowerState.Paused) return d.pause(id);
      return d.suspend(id);
    };
    for (const [from, call, label] of cases) {
      await put(from);
      const err = await expectCode(t, call(), VirtErrorCode.InvalidState);
      t.false(isVirtError(err) && err.retryable, label);
      t.is(await state(d, id), from, label);
    }
  });

  it(
    'a guest that dies under the hypervisor is crashed; power on, ' + 'power off and spawn converge from there',
    async (t, rig) => {
      const { driver: d, host } = rig;
      const s = spec(host);
      await d.spawn(s);
      await rig.crash(s.instanceId);
      t.is(await state(d, s.instanceId), PowerState.Crashed);
      t.is((await d.powerOn(s.instanceId)).powerState, PowerState.Running);
      await rig.crash(s.instanceId);
      t.is((await d.powerOff(s.instanceId)).powerState, PowerState.Shutdown);
      t.is((await d.powerOn(s.instanceId)).powerState, PowerState.Running);
      await rig.crash(s.instanceId);
      t.is((await d.spawn(s)).powerState, PowerState.Running, 'a re-run spawn step restarts the guest it built');
      t.is((await d.list()).length, 1);
    },
  );

  it('a new driver over the same host sees the guests and their states (worker restart)', async (t, rig) => {
    const { driver: d, host } = rig;
    const a = spec(host, 1);
    const b = spec(host, 2);
    const c = spec(host, 3);
    await d.spawn(a);
    await d.spawn(b);
    await d.spawn(c);
    await d.pause(b.instanceId);
    await d.suspend(c.instanceId);
    await d.close();
    const d2 = rig.reopen();
    t.teardown(() => d2.close());
    const seen = Object.fromEntries((await d2.list()).map((g) => [g.instanceId, g.powerState]));
    t.deepEqual(seen, { [a.instanceId]: 'running', [b.instanceId]: 'paused', [c.instanceId]: 'suspended' });
    t.is((await d2.resume(c.instanceId)).powerState, PowerState.Running);
    t.is((await d2.spawn(a)).pid, (await d2.get(a.instanceId))?.pid);
  });

  it('close refuses further calls and leaves the guests running', async (t, rig) => {
    const { driver: d, host } = rig;
    const s = spec(host);
    await d.spawn(s);
    await d.close();
    await expectCode(t, d.get(s.instanceId), VirtErrorCode.DriverClosed);
    await expectCode(t, d.list(), VirtErrorCode.DriverClosed);
    const d2 = rig.reopen();
    t.teardown(() => d2.close());
    t.is(await state(d2, s.instanceId), PowerState.Running);
  });

  it('an aborted signal fails Aborted (retryable) and changes nothing', async (t, { driver: d, host }) => {
    const s = spec(host);
    const ac = new AbortController();
    ac.abort();
    const err = await expectCode(t, d.spawn(s, { signal: ac.signal }), VirtErrorCode.Aborted);
    t.true(isVirtError(err) && err.retryable);
    t.is(await d.get(s.instanceId), undefined);
    await d.spawn(s);
    await expectCode(t, d.powerOff(s.instanceId, { signal: ac.signal }), VirtErrorCode.Aborted);
    t.is(await state(d, s.instanceId), PowerState.Running);
  });

  it('list shows only this host; unsafe ids are refused with InvalidSpec', async (t, { driver: d, host }) => {
    await d.spawn(spec(host, 1));
    await expectCode(t, d.spawn(spec('some-other-host', 2)), VirtErrorCode.InvalidSpec);
    await expectCode(t, d.spawn({ ...spec(host, 3), instanceId: '../escape' }), VirtErrorCode.InvalidSpec);
    t.deepEqual(
      (await d.list()).map((g) => g.host),
      [host],
    );
  });

  it('every operation applied twice in a row converges to the same state as once', async (t, { driver: d, host }) => {
    const { instanceId: id } = await d.spawn(spec(host));
    const steps: Array<[string, () => Promise<GuestInfo>, PowerState]> = [
      ['pause', () => d.pause(id), 'paused'],
      ['suspend', () => d.suspend(id), 'suspended'],
      ['resume', () => d.resume(id), 'running'],
      ['rescue', () => d.rescue(id), 'running'],
      ['unrescue', () => d.unrescue(id), 'running'],
      ['powerOff', () => d.powerOff(id), 'shutdown'],
      ['powerOn', () => d.powerOn(id), 'running'],
      ['pause', () => d.pause(id), 'paused'],
      ['unpause', () => d.unpause(id), 'running'],
      ['reboot', () => d.reboot(id, 'SOFT'), 'running'],
    ];
    for (const [label, step, expected] of steps) {
      t.is((await step()).powerState, expected, `${label} once`);
      t.is((await step()).powerState, expected, `${label} twice`);
      t.is(await state(d, id), expected, `${label} read back`);
    }
  });
}
