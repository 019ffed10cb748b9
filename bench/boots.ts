/** Boot load from the public client, shared by the boot, ops, memory, recovery and scale scenarios. */
import type { BenchClient } from './client.js';
import { summarize, type Summary } from './stats.js';

export interface BootRun {
  readonly requested: number;
  readonly succeeded: number;
  /** Terminal events by type (instance.create.end, instance.create.error, command.rejected) and `timeout`. */
  readonly finals: Record<string, number>;
  readonly seconds: number;
  /** Boots per second over the whole run. */
  readonly perSecond: number;
  /** Boots per second between the 10th and 90th percentile of completions (no ramp-up or tail). */
  readonly sustainedPerSecond: number;
  readonly latencyMs: Summary;
  readonly instanceIds: string[];
}

/**
 * Boots `n` instances keeping `concurrency` boots in flight (a closed loop: a new boot is
 * published when one ends). Latency runs from the publish to `instance.create.end`.
 */
export async function bootMany(
  client: BenchClient,
  n: number,
  concurrency: number,
  stop?: () => boolean,
): Promise<BootRun> {
  const latencies: number[] = [];
  const doneAt: number[] = [];
  const finals: Record<string, number> = {};
  const ids: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n && !stop?.()) {
        next++;
        try {
          const o = await client.boot();
          finals[o.final.type] = (finals[o.final.type] ?? 0) + 1;
          if (o.final.type === 'instance.create.end') {
            latencies.push(o.ms);
            ids.push(o.instanceId);
          }
        } catch {
          finals['timeout'] = (finals['timeout'] ?? 0) + 1;
        }
        doneAt.push(performance.now());
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const a = doneAt[Math.floor(doneAt.length * 0.1)] ?? t0;
  const b = doneAt[Math.floor(doneAt.length * 0.9)] ?? t0;
  const middle = Math.floor(doneAt.length * 0.9) - Math.floor(doneAt.length * 0.1);
  const sustained = b > a ? middle / ((b - a) / 1000) : ids.length / Math.max(seconds, 1e-9);
  return {
    requested: next,
    succeeded: ids.length,
    finals,
    seconds,
    perSecond: ids.length / seconds,
    sustainedPerSecond: sustained,
    latencyMs: summarize(latencies),
    instanceIds: ids,
  };
}

/**
 * Boots at a steady rate (an open loop: one every 1/rate s, whether or not earlier ones
 * ended), so latency is measured under a known load rather than behind a queue the
 * closed loop keeps full. At most `cap` boots are left outstanding.
 */
export async function bootAtRate(client: BenchClient, n: number, perSecond: number, cap = 2000): Promise<BootRun> {
  const latencies: number[] = [];
  const doneAt: number[] = [];
  const finals: Record<string, number> = {};
  const ids: string[] = [];
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inflight.size >= cap) await Promise.race(inflight);
    const p = client
      .boot()
      .then((o) => {
        finals[o.final.type] = (finals[o.final.type] ?? 0) + 1;
        // From the time it was due, not the time it went: a late send is latency too
        // (an open loop that measured from the send would hide the queue it waited in).
        if (o.final.type === 'instance.create.end') {
          latencies.push(performance.now() - due);
          ids.push(o.instanceId);
        }
      })
      .catch(() => {
        finals['timeout'] = (finals['timeout'] ?? 0) + 1;
      })
      .finally(() => {
        doneAt.push(performance.now());
        inflight.delete(p);
      });
    inflight.add(p);
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - t0) / 1000;
  return {
    requested: n,
    succeeded: ids.length,
    finals,
    seconds,
    perSecond: ids.length / seconds,
    sustainedPerSecond: ids.length / seconds,
    latencyMs: summarize(latencies),
    instanceIds: ids,
  };
}
