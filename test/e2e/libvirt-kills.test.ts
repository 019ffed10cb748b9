/**
 * kill -9 of a compute worker in the middle of real work on real QEMU guests (`novactor up
 * --driver libvirt --hosts 2`): mid-boot, and mid-live-migration (the libvirt job running).
 * `up` restarts the worker; the command still ends once, the guest runs exactly once where the
 * record says, nothing leaks (`novactor audit`), and no QEMU is left without an instance.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../actors/runtime/nats-server.js';
import { eventually } from '../helpers/eventually.js';
import { killQemusUnder, qemusUnder, withLibvirt } from '../helpers/libvirt.js';
import { closed, runNovactor, runToEnd, waitForLine, type Ran } from '../helpers/processes.js';

interface Shown {
  host: string | null;
  vmState: string;
  taskState: string | null;
}
interface Action {
  action: string;
  requestId: string;
  result: string | null;
}

withLibvirt('libvirt kills', () => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-libvirt-kills-'));
  let up: ReturnType<typeof runNovactor> | undefined;
  let server: string[] = [];
  const ready = (async () => {
    const port = await freePort();
    up = runNovactor(['up', '--driver', 'libvirt', '--hosts', '2', '--port', String(port), '--data', data], {
      NATS_URL: '',
    });
    await waitForLine(up, /ready/, 120_000);
    server = ['--server', `nats://127.0.0.1:${port}`];
  })();
  let failed = false;
  test.afterEach.always((t) => {
    if (!t.passed) failed = true;
  });
  test.after.always(async () => {
    await ready.catch(() => undefined);
    if (up) {
      up.kill('SIGINT');
      await closed(up);
    }
    killQemusUnder(data);
    // A failure keeps every role's log (data/*.log, the hosts' libvirtd logs) to chase it.
    if (failed) console.error(`libvirt kills: a test failed; its cloud's logs are kept in ${data}`);
    else rmSync(data, { recursive: true, force: true });
  });

  const run = (...args: string[]): Promise<Ran> => runToEnd([...args, ...server]);
  const show = async (id: string) =>
    (JSON.parse((await run('show', id, '--json')).out) as { instance: Shown }).instance;
  const qemus = (id: string) =>
    qemusUnder(data).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(id));
  /** The compute worker of `host`, as `up` runs it (its command line names it). */
  const workerPid = (host: string): number => {
    const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    const line = out
      .split('\n')
      .find((l) => l.includes(' compute ') && l.includes(`--host ${host} `) && l.includes(`${data}/`));
    if (!line) throw new Error(`no compute worker for ${host}`);
    return Number(line.trim().split(/\s+/)[0]);
  };
  /** Waits until the instance has no task in flight, then checks the one truth every kill must leave. */
  const settled = async (id: string) => {
    await eventually(
      async () => {
        const s = await show(id);
        if (s.taskState !== null) throw new Error(`still ${s.vmState}/${s.taskState}`);
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    return show(id);
  };
  const endedOnce = async (id: string, action: string) => {
    const acts = (JSON.parse((await run('actions', id, '--json')).out) as { actions: Action[] }).actions.filter(
      (a) => a.action === action,
    );
    return acts.length === 1 && acts[0]!.result !== null;
  };
  const audited = async () => {
    const a = await run('audit');
    return a.code === 0 ? 'clean' : a.out + a.err;
  };

  test.serial(
    'libvirt kills - the compute worker killed mid-boot (its disk being made): one boot, one guest, no leak',
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-boot', '--flavor', 'm1.tiny');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      // The host that got it starts making its disk: kill its worker then.
      const host = await eventually(
        async () => {
          const h = ['h1', 'h2'].find((x) => existsSync(join(data, 'hosts', x, 'instances', id)));
          if (!h) throw new Error('no host has started it yet');
          return h;
        },
        { intervalMs: 5 },
      );
      process.kill(workerPid(host), 'SIGKILL');
      const s = await settled(id);
      t.true(await endedOnce(id, 'boot'), 'the boot ended once');
      if (s.vmState === 'active') t.is(qemus(id).length, 1, 'exactly one QEMU');
      else t.deepEqual(qemus(id), [], 'a failed boot leaves no QEMU');
      t.is(await audited(), 'clean');
      t.is((await run('delete', id, '--wait')).code, 0);
      t.deepEqual(qemus(id), []);
    },
  );

  test.serial(
    'libvirt kills - the destination worker killed as the carried disk arrives (cold migration): the disk is there once, the object gone, no leak',
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-carry', '--flavor', 'm1.tiny', '--wait');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      const source = (await show(id)).host!;
      const dest = source === 'h1' ? 'h2' : 'h1';
      t.is((await run('stop', id, '--wait')).code, 0);
      const disk = (h: string) => join(data, 'hosts', h, 'instances', id, 'disk.qcow2');
      execFileSync('qemu-io', ['-c', 'write -P 0x6b 2M 64k', disk(source)]);
      t.is((await run('migrate', id)).code, 0);
      // The destination starts taking the disk in: kill its worker then.
      await eventually(
        async () => {
          if (!existsSync(join(data, 'hosts', dest, 'instances', id))) throw new Error('not arriving yet');
        },
        { intervalMs: 5, timeoutMs: 120_000 },
      );
      process.kill(workerPid(dest), 'SIGKILL');
      const s = await settled(id);
      t.true(await endedOnce(id, 'migrate'), 'the migration ended once');
      t.is(s.vmState, 'resized', `${s.vmState} on ${s.host}`);
      t.is(s.host, dest);
      const read = execFileSync('qemu-io', ['-U', '-r', '-c', 'read -P 0x6b 2M 64k', disk(dest)], { encoding: 'utf8' });
      t.regex(read, /read 65536\/65536 bytes/, 'the carried disk, whole');
      t.is((await run('confirm', id, '--wait')).code, 0);
      t.is(await audited(), 'clean');
      const nc = await connect({ servers: server[1]! });
      try {
        const objects = await (await new Objm(nc).open('nv-disks')).list();
        t.deepEqual(
          objects.filter((o) => !o.deleted).map((o) => o.name),
          [],
          'no carried disk left in the store',
        );
      } finally {
        await nc.close();
      }
      t.is((await run('delete', id, '--wait')).code, 0);
      t.deepEqual(qemus(id), []);
    },
  );

  test.serial(
    'libvirt kills - the worker killed while a shelve saves its image: one shelve, and the unshelved guest has its disk',
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-shelve', '--flavor', 'm1.tiny', '--wait');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      const host = (await show(id)).host!;
      t.is((await run('stop', id, '--wait')).code, 0);
      execFileSync('qemu-io', ['-c', 'write -P 0x3c 3M 64k', join(data, 'hosts', host, 'instances', id, 'disk.qcow2')]);
      t.is((await run('shelve', id)).code, 0);
      // Its image record is made before the disk is saved: kill the worker then.
      await eventually(
        async () => {
          const r = JSON.parse((await run('images', '--instance', id, '--json')).out) as { images: unknown[] };
          if (r.images.length === 0) throw new Error('no image yet');
        },
        { intervalMs: 5, timeoutMs: 60_000 },
      );
      process.kill(workerPid(host), 'SIGKILL');
      const s = await settled(id);
      t.true(await endedOnce(id, 'shelve'), 'the shelve ended once');
      if (s.vmState !== 'shelved_offloaded') t.is((await run('shelve-offload', id, '--wait')).code, 0);
      t.is((await run('unshelve', id, '--wait')).code, 0);
      const now = await show(id);
      const read = execFileSync(
        'qemu-io',
        ['-U', '-r', '-c', 'read -P 0x3c 3M 64k', join(data, 'hosts', now.host!, 'instances', id, 'disk.qcow2')],
        { encoding: 'utf8' },
      );
      t.regex(read, /read 65536\/65536 bytes/, 'the unshelved disk is the shelved one');
      t.is(qemus(id).length, 1);
      t.is(await audited(), 'clean');
      t.is((await run('delete', id, '--wait')).code, 0);
    },
  );

  test.serial(
    'libvirt kills - the source worker killed mid-live-migration: the job ends, one guest where the record says, no leak',
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-live', '--flavor', 'm1.tiny', '--wait');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      const source = (await show(id)).host!;
      t.is((await run('live-migrate', id)).code, 0);
      // The libvirt job is running: the destination has the disk prepared and the record says so.
      await eventually(
        async () => {
          const m = JSON.parse((await run('migrations', '--json')).out) as {
            migrations: Array<{ instanceId: string; status: string }>;
          };
          if (!m.migrations.some((x) => x.instanceId === id && x.status === 'running'))
            throw new Error('not running yet');
        },
        { intervalMs: 20 },
      );
      process.kill(workerPid(source), 'SIGKILL');
      const s = await settled(id);
      t.is(s.vmState, 'active');
      t.true(await endedOnce(id, 'live_migrate'), 'the live migration ended once');
      const running = qemus(id);
      t.is(running.length, 1, 'exactly one QEMU');
      const cmd = readFileSync(`/proc/${running[0]}/cmdline`, 'utf8');
      t.true(
        cmd.includes(join(data, 'hosts', s.host!, 'instances', id)),
        `its QEMU runs on ${s.host}, as the record says`,
      );
      t.is(await audited(), 'clean');
      t.is((await run('delete', id, '--wait')).code, 0);
      t.deepEqual(qemus(id), []);
    },
  );

  test.serial(
    "libvirt kills - the host's libvirtd killed while a stop waits for the guest: it ends once, cleanly",
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-libvirtd', '--flavor', 'm1.tiny', '--wait');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      const host = (await show(id)).host!;
      const pidFile = join(data, 'hosts', host, 'libvirt', 'libvirtd.pid');
      const daemon = Number(readFileSync(pidFile, 'utf8').trim());
      t.is((await run('stop', id)).code, 0);
      // The built-in guest ignores ACPI: the stop waits up to 5 s before destroying it. Kill then.
      await eventually(async () => {
        if ((await show(id)).taskState !== 'powering_off') throw new Error('not powering off yet');
      });
      process.kill(daemon, 'SIGKILL');
      const s = await settled(id);
      t.true(await endedOnce(id, 'stop'), 'the stop ended once');
      // Either way, the record and the hypervisor agree (the new daemon found the guests).
      const expected = s.vmState === 'stopped' ? 0 : 1;
      t.is(qemus(id).length, expected, `${s.vmState}: ${expected} QEMU`);
      t.not(Number(readFileSync(pidFile, 'utf8').trim()), daemon, 'a new libvirtd serves the host');
      t.is(await audited(), 'clean');
      t.is((await run('delete', id, '--wait')).code, 0);
      t.deepEqual(qemus(id), []);
    },
  );

  test.serial(
    'libvirt kills - the libvirtd role killed, its daemon left running: the restarted role adopts it',
    async (t) => {
      t.timeout(300_000);
      await ready;
      const booted = await run('boot', 'kill-role', '--flavor', 'm1.tiny', '--wait');
      t.is(booted.code, 0, booted.err);
      const id = /^instance (\S+)$/m.exec(booted.out)![1]!;
      const host = (await show(id)).host!;
      const pidFile = join(data, 'hosts', host, 'libvirt', 'libvirtd.pid');
      const daemon = Number(readFileSync(pidFile, 'utf8').trim());
      const role = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
        .split('\n')
        .find((l) => l.includes(' libvirtd --root ') && l.includes(join(data, 'hosts', host, 'libvirt')));
      t.truthy(role, 'the libvirtd role runs');
      process.kill(Number(role!.trim().split(/\s+/)[0]), 'SIGKILL');
      // The host keeps working through the same daemon, adopted by the restarted role.
      t.is((await run('reboot', id, '--hard', '--wait')).code, 0);
      t.is(Number(readFileSync(pidFile, 'utf8').trim()), daemon, 'the same libvirtd');
      t.is(qemus(id).length, 1);
      t.is((await run('delete', id, '--wait')).code, 0);
      t.is(await audited(), 'clean');
    },
  );
});
