/**
 * A cloud of real QEMU guests, driven as a user drives it: `novactor up --driver libvirt
 * --hosts 2` (a private libvirtd per host) and the CLI. Every lifecycle operation is checked
 * against what really runs: the guest's QEMU process (found by the instance id on its command
 * line), its console line, and the files under the host's instances directory.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../actors/runtime/nats-server.js';
import { GUEST_BANNER, RESCUE_BANNER } from '../../virt/libvirt/disks.js';
import { baseImage, GUEST_UP } from '../../virt/libvirt/guest-image.js';
import { eventually } from '../helpers/eventually.js';
import { killQemusUnder, qemusUnder, withLibvirt } from '../helpers/libvirt.js';
import { closed, runNovactor, runToEnd, waitForLine } from '../helpers/processes.js';

const runTool = (bin: string, args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(bin, args, { encoding: 'utf8' }, (err, out, errOut) =>
      err ? reject(new Error(`${bin} ${args.join(' ')}: ${errOut || err.message}`)) : resolve(out),
    ),
  );

let dataDir: string | undefined;
const UPLOAD_BANNER = 'novactor upload ';

withLibvirt('libvirt up', () => {
  test('libvirt up - boot, every lifecycle operation and the moves on real QEMU guests, then nothing left', async (t) => {
    t.timeout(600_000);
    const data = mkdtempSync(join(tmpdir(), 'novactor-libvirt-up-'));
    const port = await freePort();
    const up = runNovactor(['up', '--driver', 'libvirt', '--hosts', '2', '--port', String(port), '--data', data], {
      NATS_URL: '',
    });
    dataDir = data;
    t.teardown(async () => {
      up.kill('SIGINT');
      await closed(up);
      killQemusUnder(data); // guests outlive their daemons: none should be left, but never leak one
    });
    await waitForLine(up, /ready/, 120_000);
    const server = ['--server', `nats://127.0.0.1:${port}`];
    const cli = async (...args: string[]) => {
      const r = await runToEnd([...args, ...server]);
      t.is(r.code, 0, `${args.join(' ')}: ${r.out}${r.err}`);
      return r.out;
    };
    const show = async (id: string) =>
      (
        JSON.parse(await cli('show', id, '--json')) as {
          instance: { host: string; vmState: string; powerState: string };
        }
      ).instance;
    const qemus = (id: string) =>
      qemusUnder(data).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(id));
    const instanceDir = (host: string, id: string) => join(data, 'hosts', host, 'instances', id);
    const consoleHas = (host: string, id: string, line: string) =>
      eventually(async () => {
        const log = readFileSync(join(instanceDir(host, id), 'console.log'), 'utf8');
        if (!log.includes(line)) throw new Error(`no "${line}" on the console yet`);
      });

    // The hosts report what libvirt sees: this machine's CPUs (capacity = CPUs × the ratio 4).
    const hosts = JSON.parse(await cli('hosts', '--json')) as {
      hosts: Array<{ host: string; usage: { VCPU: { capacity: number } } | null }>;
    };
    t.deepEqual(
      hosts.hosts.map((h) => h.usage?.VCPU.capacity),
      [cpus().length * 4, cpus().length * 4],
    );

    // The demo's tour on real guests prints each guest's console line.
    const demo = await cli('demo');
    for (const name of ['demo-1', 'demo-2', 'demo-3'])
      t.regex(demo, new RegExp(`-- ${name} console: ${GUEST_BANNER}[0-9a-f-]{36}${GUEST_UP}`), demo);

    const boot = await cli('boot', 'real-1', '--flavor', 'm1.tiny', '--wait');
    const id = /^instance (\S+)$/m.exec(boot)![1]!;
    let host = (await show(id)).host;
    t.is(qemus(id).length, 1, 'one QEMU process runs with the instance id as its UUID');
    await consoleHas(host, id, `${GUEST_BANNER}${id}${GUEST_UP}`);
    // The same through the public API: read on the guest's host (Nova's get_console_output).
    t.true((await cli('console-log', id, '--length', '1')).includes(`${GUEST_BANNER}${id}${GUEST_UP}`));

    const expect = async (op: string[], power: string, running: boolean) => {
      await cli(...op, id, '--wait');
      t.is((await show(id)).powerState, power, op.join(' '));
      t.is(qemus(id).length, running ? 1 : 0, `${op.join(' ')}: QEMU ${running ? 'runs' : 'is gone'}`);
    };
    await expect(['stop'], 'shutdown', false);
    await expect(['start'], 'running', true);
    await expect(['reboot'], 'running', true);
    await expect(['reboot', '--hard'], 'running', true);
    await expect(['pause'], 'paused', true);
    await expect(['unpause'], 'running', true);
    await expect(['suspend'], 'suspended', false); // managed save: QEMU exits, its memory is on disk
    await expect(['resume'], 'running', true);
    await expect(['rescue'], 'running', true);
    await consoleHas(host, id, `${RESCUE_BANNER}${id}${GUEST_UP}`);
    await expect(['unrescue'], 'running', true);

    // Moves: the guest ends on the other host's libvirtd, one QEMU, the source's files gone,
    // and its disk goes with it: a pattern written into the disk while the guest is off is
    // read back on the destination, after a cold migration and after a resize that grew it.
    const from = host;
    await cli('stop', id, '--wait');
    const disk = (h: string) => join(instanceDir(h, id), 'disk.qcow2');
    const marked = (h: string) => runTool('qemu-io', ['-U', '-r', '-c', 'read -P 0x5a 1M 64k', disk(h)]);
    await runTool('qemu-io', ['-c', 'write -P 0x5a 1M 64k', disk(from)]);
    await cli('migrate', id, '--wait');
    const to = (await show(id)).host;
    t.not(to, from);
    t.is((await show(id)).powerState, 'shutdown', 'a stopped guest arrives stopped');
    t.regex(await marked(to), /read 65536\/65536 bytes/, 'the disk came with it');
    await cli('revert', id, '--wait');
    t.is((await show(id)).host, from, 'reverted to its host');
    await cli('start', id, '--wait');
    await cli('resize', id, 'm1.small', '--wait');
    await cli('confirm', id, '--wait');
    host = (await show(id)).host;
    t.not(host, from);
    t.is(qemus(id).length, 1);
    t.false(existsSync(instanceDir(from, id)), 'the source host kept nothing of it');
    t.regex(await marked(host), /read 65536\/65536 bytes/, 'the disk came with the resize');
    const size = JSON.parse(await runTool('qemu-img', ['info', '-U', '--output', 'json', disk(host)])) as {
      'virtual-size': number;
    };
    t.is(size['virtual-size'], 20 * 1024 ** 3, 'grown to m1.small');
    // A smaller root disk is refused before anything changes (Nova: "Unable to resize disk down").
    const down = await runToEnd(['resize', id, 'm1.tiny', '--wait', ...server]);
    t.not(down.code, 0);
    t.regex(down.out + down.err, /ResizeDown|unable to resize disk down/);
    await eventually(async () => {
      const now = await show(id);
      if (now.vmState !== 'active' || now.powerState !== 'running') throw new Error(`${now.vmState}/${now.powerState}`);
    });
    t.is((await show(id)).host, host, 'still where it was');
    await cli('live-migrate', id, '--wait');
    t.is((await show(id)).host, from);
    t.is(qemus(id).length, 1, 'exactly one QEMU after a live migration');

    // Images carry the disk too: a snapshot, booted as a new instance (on either host: its bytes
    // come from the image store), and a shelve, offloaded and unshelved, read the pattern back.
    await cli('snapshot', id, '--name', 'real-1-snap', '--wait');
    const images = JSON.parse(await cli('images', '--json')) as { images: Array<{ imageId: string; name: string }> };
    const snap = images.images.find((i) => i.name === 'real-1-snap')!.imageId;
    const fromSnap = /^instance (\S+)$/m.exec(
      await cli('boot', 'from-snap', '--flavor', 'm1.small', '--image', snap, '--wait'),
    )![1]!;
    const snapHost = (await show(fromSnap)).host;
    const snapDisk = join(instanceDir(snapHost, fromSnap), 'disk.qcow2');
    t.regex(
      await runTool('qemu-io', ['-U', '-r', '-c', 'read -P 0x5a 1M 64k', snapDisk]),
      /read 65536\/65536 bytes/,
      'booted from the snapshot: its disk',
    );
    await cli('delete', fromSnap, '--wait');

    // A user's own image: a qcow2 uploaded with `image create`, booted by its id. Its boot
    // sector prints another banner, so the console shows that this image runs, not the built-in one.
    const raw = join(data, 'mine.raw');
    const qcow2 = join(data, 'mine.qcow2');
    writeFileSync(raw, baseImage(UPLOAD_BANNER));
    await runTool('qemu-img', ['convert', '-O', 'qcow2', raw, qcow2]);
    const uploaded = (
      JSON.parse(await cli('image', 'create', 'mine', '--file', qcow2, '--json')) as {
        image: { imageId: string; status: string };
      }
    ).image;
    t.is(uploaded.status, 'active');
    const fromUpload = /^instance (\S+)$/m.exec(
      await cli('boot', 'from-upload', '--flavor', 'm1.tiny', '--image', uploaded.imageId, '--wait'),
    )![1]!;
    await consoleHas((await show(fromUpload)).host, fromUpload, `${UPLOAD_BANNER}${fromUpload}${GUEST_UP}`);
    await cli('delete', fromUpload, '--wait');
    await cli('image', 'delete', uploaded.imageId);

    await cli('shelve', id, '--wait');
    await eventually(async () => {
      if ((await show(id)).vmState !== 'shelved_offloaded') await cli('shelve-offload', id, '--wait');
    });
    t.is(qemus(id).length, 0);
    await cli('unshelve', id, '--wait');
    t.is(qemus(id).length, 1);
    host = (await show(id)).host;
    await consoleHas(host, id, `${GUEST_BANNER}${id}${GUEST_UP}`);
    t.regex(await marked(host), /read 65536\/65536 bytes/, 'unshelved from its shelved image');
    // The shelved image is gone once unshelved; the snapshot stays, until deleted with the project's images.
    const after = JSON.parse(await cli('images', '--json')) as { images: Array<{ imageId: string; kind: string }> };
    t.deepEqual(
      after.images.map((i) => i.kind),
      ['snapshot'],
    );

    // Its QEMU killed under libvirt: libvirt's lifecycle event has the host sync it at once
    // (not at the 10-minute periodic sync): the instance is stopped, and starts again.
    process.kill(qemus(id)[0]!, 'SIGKILL');
    await eventually(
      async () => {
        const now = await show(id);
        if (now.vmState !== 'stopped') throw new Error(`still ${now.vmState}/${now.powerState}`);
      },
      { timeoutMs: 60_000 },
    );
    await expect(['start'], 'running', true);

    // Boot from volume: the volume made for the image is the guest's boot disk (no disk of its
    // own), left in place by a live migration, booted again by a cold one's destination.
    const bfv = /^instance (\S+)$/m.exec(
      await cli(
        'boot',
        'from-volume',
        '--flavor',
        'm1.tiny',
        '--image',
        'cirros',
        '--boot-from-image-volume',
        '1',
        '--delete-on-termination',
        '--wait',
      ),
    )![1]!;
    const volumeFile = join(data, 'volumes', `root-${bfv}.qcow2`);
    const domainOf = (h: string, inactive = false) =>
      runTool('virsh', [
        '-q',
        '-c',
        `qemu:///system?socket=${data}/hosts/${h}/libvirt/run/libvirt-sock`,
        'dumpxml',
        ...(inactive ? ['--inactive'] : []),
        bfv,
      ]);
    let bfvHost = (await show(bfv)).host;
    await consoleHas(bfvHost, bfv, `${GUEST_BANNER}${bfv}${GUEST_UP}`);
    t.true((await domainOf(bfvHost)).includes(`<source file='${volumeFile}'`), 'the volume is its disk');
    t.false(existsSync(join(instanceDir(bfvHost, bfv), 'disk.qcow2')), 'no disk of its own');
    const volumeInode = statSync(volumeFile).ino;
    // With an interface plugged into the running guest (a USB NIC, which QEMU cannot migrate):
    // the live migration unplugs it for the copy and the destination plugs it again.
    const net = (JSON.parse(await cli('network', 'create', 'lm-net', '--json')) as { network: { networkId: string } })
      .network.networkId;
    await cli('subnet', 'create', 'lm-v4', '--network', net, '--cidr', '10.8.0.0/24');
    const plug = (
      JSON.parse(await cli('port', 'create', 'lm-port', '--network', net, '--json')) as {
        port: { portId: string; mac: string };
      }
    ).port;
    await cli('attach-interface', bfv, '--port', plug.portId, '--wait');
    const nicOf = (xml: string) =>
      (xml.match(/<interface\b[\s\S]*?<\/interface>/g) ?? []).find((e) => e.includes(`'${plug.mac}'`)) ?? '';
    t.regex(nicOf(await domainOf(bfvHost)), /usb-net/, 'plugged as a USB NIC');
    await cli('live-migrate', bfv, '--wait');
    t.not((await show(bfv)).host, bfvHost);
    const lmFrom = bfvHost;
    bfvHost = (await show(bfv)).host;
    t.is(qemus(bfv).length, 1);
    t.true((await domainOf(bfvHost)).includes(`<source file='${volumeFile}'`));
    t.regex(nicOf(await domainOf(bfvHost)), /usb-net/, 'plugged again in the running guest at the destination');
    t.regex(nicOf(await domainOf(bfvHost, true)), /usb-net/, 'and in its definition there');
    await t.throwsAsync(domainOf(lmFrom, true), undefined, 'no domain left on the source');
    await cli('migrate', bfv, '--wait');
    await cli('confirm', bfv, '--wait');
    t.not((await show(bfv)).host, bfvHost);
    bfvHost = (await show(bfv)).host;
    await consoleHas(bfvHost, bfv, `${GUEST_BANNER}${bfv}${GUEST_UP}`);
    t.is(statSync(volumeFile).ino, volumeInode, 'the same volume file throughout: never copied');
    await cli('delete', bfv, '--wait');
    t.false(existsSync(volumeFile), 'deleted with its instance (--delete-on-termination)');

    await cli('delete', id, '--wait');
    t.deepEqual(qemus(id), [], 'no QEMU left');
    t.false(existsSync(instanceDir('h1', id)) || existsSync(instanceDir('h2', id)), 'no file of it left');
    const audit = await runToEnd(['audit', ...server]);
    t.is(audit.code, 0, audit.out + audit.err);
  });

  // A failure keeps every role's log (and the hosts' libvirtd logs) to chase it.
  test.afterEach.always((t) => {
    if (!dataDir) return;
    if (t.passed) rmSync(dataDir, { recursive: true, force: true });
    else console.error(`libvirt up: the test failed; its cloud's logs are kept in ${dataDir}`);
  });
});
