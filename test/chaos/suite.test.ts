/**
 * The short chaos suite of `npm test` (issue 7): one seed for 30 s on one nats-server and
 * one seed for 45 s on a 3-node cluster (where one node is lost for good and replaced), each with
 * every kind of fault, through the same code
 * as `novactor chaos`. Each run must end with no violation and no problem (nothing lost,
 * leaked, duplicated; I1–I7 hold; something was injected), and together they must have
 * injected every kind of fault. Long runs are `npm run chaos:soak`, not part of CI.
 */
import test from 'ava';
import type { ChaosOptions } from '../../chaos/history.js';
import { runChaos } from '../../chaos/run.js';
import { cleanRun } from '../helpers/chaos.js';

const injected = new Map<string, number>();
/** What the runs said about their faults and the cluster: shown when a kind was not injected. */
const faultLines: string[] = [];
const say = (line: string) => {
  if (/strike|nats|node|fault/.test(line)) faultLines.push(line);
  if (process.env['NV_TEST_LOG']) console.error(`[chaos] ${line}`);
};

const RUNS: ChaosOptions[] = [
  // One, not three: CI's 25 minutes (seeds 12 and 13 run in `npm run chaos:soak`'s like any other).
  ...[11].map((seed) => ({
    seed,
    durationMs: 30_000,
    clients: 3,
    hosts: 3,
    faults: ['kill', 'pause', 'driver'] as const,
    rate: 24,
    cluster: 1 as const,
  })),
  // On the cluster, one node is also lost for good mid-run (nats-loss): the quorum of two
  // serves until a fresh, empty node replaces it and catches up. 45 s: a node killed before
  // it is restarted and its copies compared (and the node replaced when they differ, as
  // nats-server 2.9 leaves them after a kill -9, docs/chaos.md) before the loss may strike.
  {
    seed: 21,
    durationMs: 45_000,
    clients: 3,
    hosts: 3,
    faults: ['kill', 'pause', 'nats', 'nats-loss', 'driver'],
    rate: 24,
    cluster: 3,
  },
];

for (const o of RUNS) {
  test.serial(
    `chaos suite - seed ${o.seed}, ${o.durationMs / 1000} s, ${o.cluster === 3 ? '3-node cluster' : 'one server'}: no violation`,
    async (t) => {
      t.timeout(300_000);
      const r = await runChaos({ ...o, faults: [...o.faults] }, { say });
      for (const [k, n] of Object.entries(r.summary.faults)) injected.set(k, (injected.get(k) ?? 0) + n);
      cleanRun(t, r);
    },
  );
}

test.serial('chaos suite - every kind of fault was injected', (t) => {
  t.log(JSON.stringify(Object.fromEntries(injected)));
  const kinds = ['ctl-instance', 'ctl-tracker', 'kill9', 'pause', 'driver', 'nats-kill9', 'nats-loss'];
  if (kinds.some((k) => !injected.get(k))) for (const line of faultLines) t.log(line);
  for (const kind of kinds) t.true((injected.get(kind) ?? 0) > 0, kind);
});
