/**
 * Real guests: `novactor up --driver libvirt --hosts 2` (a private libvirtd per host,
 * QEMU under TCG or KVM), then N boots of m1.tiny at a given concurrency through the public
 * protocol — publish → `instance.create.end` latency, boots/s — then each guest's time from
 * its boot's publish to its console line, and the deletes. Compare with the fake driver's
 * `boot` scenario: the difference is the hypervisor. Needs root and the libvirt packages
 * (scripts/ensure-libvirt); without them it reports why and measures nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, projectRoot } from '../actors/runtime/index.js';
import { libvirtUnavailable } from '../virt/index.js';
import { GUEST_BANNER } from '../virt/libvirt/disks.js';
import { bootMany } from './boots.js';
import { BenchClient } from './client.js';
import { numOpt } from './sizes.js';
import { r1, summarize } from './stats.js';

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const why = libvirtUnavailable();
  if (why) return { results: { skipped: why }, table: `libvirt: not measured: ${why}\n` };
  // Two hosts of this machine's CPUs at the CPU ratio 16 (up's --cpu-ratio): 64 vCPUs on 2
  // cores, so 20 m1.tiny fit; an idle TCG guest costs ~0.7 % of a core and ~42 MB.
  const n = numOpt(args, 'instances', { full: 20, quick: 8, tiny: 4 });
  const concurrency = numOpt(args, 'concurrency', { full: 4, quick: 4, tiny: 2 });
  const data = mkdtempSync(join(tmpdir(), 'novactor-bench-libvirt-'));
  const port = await freePort();
  const up = spawn(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'novactor.js'),
      'up',
      '--driver',
      'libvirt',
      '--hosts',
      '2',
      '--port',
      String(port),
      '--data',
      data,
      '--cpu-ratio',
      '16',
    ],
    { env: { ...process.env, NATS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      up.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/ready/.test(out)) resolve();
      });
      up.once('exit', (code) => reject(new Error(`novactor up exited (${code})`)));
    });
    // The bench project's quota would stop it at 10 instances: no limits for it.
    execFileSync(process.execPath, [
      join(projectRoot(), 'bin', 'novactor.js'),
      'quota',
      'set',
      '--project',
      'bench',
      '--instances',
      '-1',
      '--cores',
      '-1',
      '--ram',
      '-1',
      '--server',
      `nats://127.0.0.1:${port}`,
    ]);
    const client = await BenchClient.connect(`nats://127.0.0.1:${port}`);
    const boots = await bootMany(client, n, concurrency);
    // Each guest's console line, timed from the end of the run's boots (a lower bound on how late it came).
    const consoleMs: number[] = [];
    const t0 = performance.now();
    for (const id of boots.instanceIds) {
      for (;;) {
        const line = ['h1', 'h2']
          .map((h) => {
            try {
              return readFileSync(join(data, 'hosts', h, 'instances', id, 'console.log'), 'utf8');
            } catch {
              return '';
            }
          })
          .some((log) => log.includes(`${GUEST_BANNER}${id}`));
        if (line || performance.now() - t0 > 120_000) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      consoleMs.push(performance.now() - t0);
    }
    const del = summarize(
      await Promise.all(boots.instanceIds.map(async (id) => (await client.command(id, 'delete')).ms)),
    );
    await client.close();
    const results = {
      instances: n,
      concurrency,
      boots: { ...boots, instanceIds: undefined },
      consoleAfterBootsMs: summarize(consoleMs),
      deleteMs: del,
    };
    const table = [
      `libvirt (2 hosts, ${n} boots of m1.tiny at concurrency ${concurrency}):`,
      `  boots/s ${r1(boots.perSecond)}; publish → create.end p50 ${r1(boots.latencyMs.p50)} ms, p95 ${r1(boots.latencyMs.p95)} ms, max ${r1(boots.latencyMs.max)} ms; finals ${JSON.stringify(boots.finals)}`,
      `  console line, after the last boot ended: max ${r1(summarize(consoleMs).max)} ms`,
      `  delete → delete.end p50 ${r1(del.p50)} ms, max ${r1(del.max)} ms`,
      '',
    ].join('\n');
    return { results, table };
  } finally {
    up.kill('SIGINT');
    await new Promise((r) => up.once('close', r));
    rmSync(data, { recursive: true, force: true });
  }
}
