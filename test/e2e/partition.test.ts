/**
 * A source host that was only partitioned (its worker stopped with SIGSTOP long enough for its
 * heartbeat to expire), evacuated, then continued with SIGCONT: it must never write the
 * instance again (the ownership epoch and CAS fence it), and it destroys its local copy, so
 * exactly one guest runs. Real processes: `novactor up --hosts 2` and the CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort } from '../../actors/runtime/nats-server.js';
import { eventually } from '../helpers/eventually.js';
import { childPids, exitOf, runNovactor, runToEnd, waitForLine } from '../helpers/processes.js';

const argsOf = (pid: number) => {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return '';
  }
};

const run = (args: string[]) => runToEnd(args, { NATS_URL: '', NOVACTOR_USER: 'admin' });

/** Guests the fake driver keeps for a host (its JSON file under the data dir). */
function guestsOn(data: string, host: string): string[] {
  const file = join(data, 'hosts', host, 'fake-guests.json');
  if (!existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')) as Array<{ spec: { instanceId: string } }>).map(
    (g) => g.spec.instanceId,
  );
}

test('partition - a SIGSTOPped source is evacuated; after SIGCONT it writes nothing and destroys its copy: one guest, audit clean', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'nv-partition-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const up = runNovactor(['up', '--hosts', '2', '--port', String(port), '--data', data], { NATS_URL: '' });
  try {
    await waitForLine(up, /ready/, 60_000);
    const booted = await run(['boot', 'partitioned', '--flavor', 'm1.tiny', '--wait', '--json', '--server', url]);
    t.is(booted.code, 0, booted.err);
    const lines = booted.out.trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]!) as {
      instanceId?: string;
      event?: { body?: { host?: string; instanceId?: string } };
    };
    const id = last.instanceId ?? last.event?.body?.instanceId ?? '';
    const shown = JSON.parse((await run(['show', id, '--json', '--server', url])).out) as {
      instance: { host: string };
    };
    const source = shown.instance.host;
    const dest = source === 'h1' ? 'h2' : 'h1';
    t.deepEqual(guestsOn(data, source), [id]);

    const worker = childPids(up.pid!).find((pid) => new RegExp(`compute .*--host ${source}\\b`).test(argsOf(pid)));
    t.truthy(worker, 'the source worker process');
    process.kill(worker!, 'SIGSTOP');
    try {
      // Its heartbeat key expires (10 s TTL): the hosts list shows it down, or not at all.
      await eventually(
        async () => {
          const hosts = JSON.parse((await run(['hosts', '--json', '--server', url])).out) as {
            hosts: Array<{ host: string; alive: boolean }>;
          };
          if (hosts.hosts.find((h) => h.host === source)?.alive === true) throw new Error('still alive');
        },
        { timeoutMs: 30_000, intervalMs: 1000 },
      );
      const ev = await run(['evacuate', id, '--wait', '--json', '--server', url]);
      t.is(ev.code, 0, ev.out + ev.err);
    } finally {
      process.kill(worker!, 'SIGCONT');
    }
    const moved = JSON.parse((await run(['show', id, '--json', '--server', url])).out) as {
      instance: { host: string; vmState: string };
    };
    t.like(moved.instance, { host: dest, vmState: 'active' });
    // The continued source notices it was taken for dead and drops its copy.
    await eventually(
      async () => {
        if (guestsOn(data, source).includes(id)) throw new Error('the source still has its guest');
      },
      { timeoutMs: 30_000 },
    );
    t.deepEqual(guestsOn(data, dest), [id], 'exactly one guest, on the new host');
    const after = JSON.parse((await run(['show', id, '--json', '--server', url])).out) as {
      instance: { host: string; updatedAt: number };
    };
    t.is(after.instance.host, dest, 'no stale write from the source');
    await eventually(
      async () => {
        const a = await run(['audit', '--json', '--server', url]);
        if (a.code !== 0) throw new Error(a.out);
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    t.is((await run(['stop', id, '--wait', '--server', url])).code, 0, 'the new host runs it');
    t.is((await run(['delete', id, '--wait', '--server', url])).code, 0);
  } finally {
    up.kill('SIGTERM');
    await exitOf(up);
    rmSync(data, { recursive: true, force: true });
  }
});
