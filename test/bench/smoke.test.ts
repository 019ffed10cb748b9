/**
 * bench - every scenario runs at a tiny size (`--tiny`) as `npm run bench` runs it (a
 * child process, its own private nats-server and roles) and writes well-formed JSON whose
 * counts add up. Speed is never checked here: benchmarks report it, tests do not.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { projectRoot } from '../../actors/runtime/project-root.js';

const out = mkdtempSync(join(tmpdir(), 'novactor-bench-smoke-'));
test.after.always(() => rmSync(out, { recursive: true, force: true }));

interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Runs one scenario and returns its parsed JSON file. */
function bench(scenario: string): Promise<{
  scenario: string;
  started: string;
  environment: Record<string, unknown>;
  results: Record<string, unknown>;
}> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(projectRoot(), 'dist', 'bench', 'run.js'), scenario, '--tiny', '--out', out],
      { timeout: 110_000, maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${scenario} failed: ${err.message}\n${stderr}`));
        const file = readdirSync(out).find((f) => f.startsWith(`${scenario}-`) && f.endsWith('.json'));
        if (!file || !stdout.includes(file))
          return reject(new Error(`${scenario}: no results file reported; stdout: ${stdout}`));
        resolve(JSON.parse(readFileSync(join(out, file), 'utf8')));
      },
    );
  });
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

function wellFormed(t: ExecutionContext, r: Awaited<ReturnType<typeof bench>>, scenario: string) {
  t.is(r.scenario, scenario);
  t.false(Number.isNaN(Date.parse(r.started)));
  const env = r.environment as {
    node: string;
    cpus: number;
    memoryGiB: number;
    natsServer: string;
    loadavg: { before: number[]; after: number[] };
  };
  t.regex(env.node, /^v\d+/);
  t.true(env.cpus >= 1);
  t.true(env.memoryGiB >= 0);
  t.regex(env.natsServer, /nats-server/);
  t.is(env.loadavg.before.length, 3);
  t.is(env.loadavg.after.length, 3);
}

function summary(t: ExecutionContext, s: Summary, n: number) {
  t.is(s.n, n);
  if (n === 0) return;
  t.true(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max, `percentiles in order: ${JSON.stringify(s)}`);
  t.true(s.mean > 0 && s.mean <= s.max);
}

test.serial('bench - ceiling: rates for every measure, stored messages equal the publishes', async (t) => {
  const r = await bench('ceiling');
  wellFormed(t, r, 'ceiling');
  const c = r.results as {
    pipelinedPublishesPerSecond: number;
    sequentialPublishesPerSecond: number;
    kvCasSequentialPerSecond: number;
    kvCasPipelinedPerSecond: number;
    kvCasPipelinedKeys: number;
    counts: {
      pipelined: number;
      sequential: number;
      kvSequential: number;
      kvPipelined: number;
      stored: number;
      kvRevisions: number;
    };
  };
  for (const k of [
    'pipelinedPublishesPerSecond',
    'sequentialPublishesPerSecond',
    'kvCasSequentialPerSecond',
    'kvCasPipelinedPerSecond',
  ] as const)
    t.true(c[k] > 0, k);
  t.is(c.counts.stored, c.counts.pipelined + c.counts.sequential);
  t.is(c.counts.kvRevisions, 1 + c.counts.kvSequential + c.kvCasPipelinedKeys + c.counts.kvPipelined);
});

test.serial(
  'bench - boot: every boot ends in create.end, writes per boot add up to the per-stream counts',
  async (t) => {
    const r = await bench('boot');
    wellFormed(t, r, 'boot');
    const b = r.results as {
      instances: number;
      run: {
        requested: number;
        succeeded: number;
        finals: Record<string, number>;
        latencyMs: Summary;
        perSecond: number;
        sustainedPerSecond: number;
      };
      writes: { total: number; perBoot: number; byStream: Record<string, number> };
      events: Record<string, number>;
      redeliveries: Record<string, number>;
      cpuMsPerBoot: Record<string, number>;
      pipelinedPublishesPerSecond: number;
      efficiency: number;
      atHalfLoad: {
        offeredPerSecond: number;
        run: { requested: number; succeeded: number; finals: Record<string, number>; latencyMs: Summary };
      };
    };
    t.is(b.run.requested, b.instances);
    t.is(sum(b.run.finals), b.run.requested);
    t.is(b.run.finals['instance.create.end'], b.instances);
    t.is(b.run.succeeded, b.instances);
    summary(t, b.run.latencyMs, b.instances);
    t.is(b.events['instance.create.end'], b.instances);
    t.is(b.events['instance.create.start'], b.instances);
    // One command stored per boot, one host task, and the record written at least once each.
    t.is(b.writes.byStream['NV_CMD'], b.instances);
    t.true((b.writes.byStream['KV_nv-instances'] ?? 0) >= b.instances);
    t.is(
      b.writes.total,
      sum(
        Object.fromEntries(
          Object.entries(b.writes.byStream).filter(([k]) => k !== 'KV_nv-services' && k !== 'KV_nv-leases'),
        ),
      ),
    );
    t.true(Math.abs(b.writes.perBoot * b.instances - b.writes.total) < 1);
    t.true(b.pipelinedPublishesPerSecond > 0 && b.run.perSecond > 0 && b.efficiency > 0);
    // CPU per boot: every process is listed, and the total is their sum.
    const { total, ...perProcess } = b.cpuMsPerBoot;
    t.true(['nats-server', 'placement', 'gateway', 'conductor', 'client'].every((k) => k in perProcess));
    t.true(Math.abs(sum(perProcess) - total!) < 0.01);
    t.true(Object.values(b.redeliveries).every((n) => n >= 0));
    // The steady-rate phase: every boot it offered ended once.
    t.true(b.atHalfLoad.offeredPerSecond >= 1);
    t.is(sum(b.atHalfLoad.run.finals), b.atHalfLoad.run.requested);
    t.is(b.atHalfLoad.run.succeeded, b.atHalfLoad.run.requested);
    summary(t, b.atHalfLoad.run.latencyMs, b.atHalfLoad.run.requested);
  },
);

test.serial('bench - ops: every stop, start and reboot succeeds, at idle and under load', async (t) => {
  const r = await bench('ops');
  wellFormed(t, r, 'ops');
  const o = r.results as {
    operationsPerPhase: number;
    targetsBooted: number;
    idle: Record<'stop' | 'start' | 'reboot', Summary> & { failed: number };
    underLoad: Record<'stop' | 'start' | 'reboot', Summary> & {
      failed: number;
      bootLoad: { booted: number; finals: Record<string, number> };
    };
  };
  t.is(o.targetsBooted, 2 * o.operationsPerPhase);
  for (const phase of [o.idle, o.underLoad]) {
    t.is(phase.failed, 0);
    for (const a of ['stop', 'start', 'reboot'] as const) summary(t, phase[a], o.operationsPerPhase);
  }
  t.is(o.underLoad.bootLoad.finals['instance.create.end'] ?? 0, o.underLoad.bootLoad.booted);
});

test.serial('bench - placement: every claim and query is counted', async (t) => {
  const r = await bench('placement');
  wellFormed(t, r, 'placement');
  const p = r.results as {
    claims: {
      concurrency1: { perSecond: number; latencyMs: Summary };
      concurrency64: { perSecond: number; latencyMs: Summary };
    };
    moveLatencyMs: Summary;
    recovery: { events: number; records: number; snapshotAtRecord: number };
  };
  summary(t, p.claims.concurrency1.latencyMs, 50);
  summary(t, p.claims.concurrency64.latencyMs, 500);
  summary(t, p.moveLatencyMs, 20);
  t.true(p.recovery.records > 0);
  t.true(p.recovery.snapshotAtRecord > 0 && p.recovery.snapshotAtRecord <= p.recovery.records);
});

test.serial('bench - memory: the worker holds one actor per booted instance', async (t) => {
  const r = await bench('memory');
  wellFormed(t, r, 'memory');
  const m = r.results as {
    instances: number;
    booted: number;
    actorsBefore: number;
    actorsAfter: number;
    gcExposed: boolean;
    perActorBytes: { rss: number; heapUsed: number };
  };
  t.is(m.booted, m.instances);
  t.is(m.actorsAfter - m.actorsBefore, m.booted);
  t.true(m.gcExposed);
  t.true(Number.isFinite(m.perActorBytes.rss) && Number.isFinite(m.perActorBytes.heapUsed));
});

test.serial('bench - recovery: every actor comes back after kill -9 and every command to them succeeds', async (t) => {
  const r = await bench('recovery');
  wellFormed(t, r, 'recovery');
  const v = r.results as {
    instances: number;
    booted: number;
    guestsFlushed: number;
    actorsRestored: number;
    restoreMs: number;
    untilEveryCommandSucceededMs: number;
    commands: { sent: number; succeeded: number; failed: number; latencyMs: Summary };
  };
  t.is(v.booted, v.instances);
  t.is(v.guestsFlushed, v.booted);
  t.is(v.actorsRestored, v.booted);
  t.is(v.commands.sent, v.booted);
  t.is(v.commands.succeeded, v.commands.sent);
  t.is(v.commands.failed, 0);
  summary(t, v.commands.latencyMs, v.commands.sent);
  t.true(v.untilEveryCommandSucceededMs >= v.restoreMs);
});

test.serial('bench - scale: a point per host count and per instance total, and a chart', async (t) => {
  const r = await bench('scale');
  wellFormed(t, r, 'scale');
  const s = r.results as {
    byHosts: {
      hosts: number;
      instances: number;
      succeeded: number;
      finals: Record<string, number>;
      latencyMs: Summary;
    }[];
    byInstances: { instancesAfter: number; batch: number; succeeded: number; finals: Record<string, number> }[];
  };
  t.deepEqual(
    s.byHosts.map((p) => p.hosts),
    [1, 3],
  );
  for (const p of s.byHosts) {
    t.is(sum(p.finals), p.instances);
    t.is(p.succeeded, p.instances);
    summary(t, p.latencyMs, p.instances);
  }
  t.deepEqual(
    s.byInstances.map((p) => p.instancesAfter),
    [10, 30],
  );
  let total = 0;
  for (const p of s.byInstances) {
    total += p.batch;
    t.is(p.instancesAfter, total);
    t.is(p.succeeded, p.batch);
    t.is(sum(p.finals), p.batch);
  }
  t.true(existsSync(join(out, 'scale.svg')));
  t.regex(readFileSync(join(out, 'scale.svg'), 'utf8'), /^<svg[\s\S]*<\/svg>\n$/);
});
