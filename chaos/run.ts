/**
 * One chaos run: start a cloud of child processes, drive the seeded workload from several
 * clients while the seeded fault schedule strikes, then stop injecting, let the cloud
 * quiesce, audit it (I1–I7), check the history, and report. The verdict is the list of
 * violations; a run that was meant to inject faults and injected none fails too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect } from '../actors/audit/index.js';
import { openStores } from '../actors/records/index.js';
import { audit } from '../machines/audit/index.js';
import { check, summarize, type FinalInstance, type Summary, type Violation } from './checker.js';
import { startChaosCloud } from './cloud.js';
import { CHAOS_PROJECT, EventRecorder, runClient } from './clients.js';
import { makeResources } from './resources.js';
import { POOL_SIZE } from './workload.js';
import { startPlacementTail } from './placement-tail.js';
import { HistoryWriter, type ChaosOptions } from './history.js';
import { inject } from './injector.js';
import { driverChaos, faultSchedule } from './schedule.js';

export interface ChaosResult {
  readonly violations: readonly Violation[];
  readonly summary: Summary;
  /** Why the run itself is not valid (nothing injected, no quiescence), besides violations. */
  readonly problems: readonly string[];
  readonly historyFile: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(
  o: ChaosOptions,
  io: { historyFile?: string; keepDir?: boolean; say: (line: string) => void },
): Promise<ChaosResult> {
  const dir = mkdtempSync(join(tmpdir(), `novactor-chaos-${o.seed}-`));
  const historyFile = io.historyFile ?? join(dir, 'history.jsonl');
  const history = new HistoryWriter(historyFile);
  history.add({ k: 'start', t: Date.now(), options: o });
  const drivers = driverChaos(o);
  for (const [host, d] of drivers)
    history.add({
      k: 'fault',
      t: Date.now(),
      kind: 'driver',
      target: `compute-${host}`,
      detail: `fail rate ${d.failRate}, latency ${d.latencyMs} ms`,
    });
  io.say(
    `seed ${o.seed}: ${o.hosts} ${o.driver ?? 'fake'} hosts, ${o.clients} clients, ${o.durationMs / 1000} s, ` +
      `faults ${o.faults.join(',') || 'none'} at ${o.rate}/min, ` +
      `${o.cluster === 3 ? '3-node cluster' : 'one nats-server'}; data in ${dir}`,
  );
  // The project's quota is exactly what its clients may hold (each keeps at most POOL_SIZE
  // instances not deleted): the ledger is written on every boot and judged at its limit, and
  // a QuotaExceeded would mean it counted an instance no client holds (checker: 'quota').
  const quota = { project: CHAOS_PROJECT, limits: { instances: o.clients * POOL_SIZE, cores: -1, ramMb: -1 } };
  const cloud = await startChaosCloud({
    dir,
    hosts: o.hosts,
    cluster: o.cluster,
    driver: drivers,
    ...(o.driver ? { hostDriver: o.driver } : {}),
    say: (l) => io.say(l),
    quota,
  });
  const problems: string[] = [];
  let clean = false;
  try {
    const recorder = new EventRecorder(history);
    await recorder.start(cloud.nc);
    const resources = await makeResources(cloud.nc, o.clients);
    const placementLog = startPlacementTail(cloud.nc, history);
    const schedule = faultSchedule(o);
    const instancesOn = (host: string) => [...recorder.hostOf].filter(([, h]) => h === host).map(([id]) => id);
    const injector = inject(cloud, schedule, history, instancesOn, (l) => io.say(l));
    const deadline = Date.now() + o.durationMs;
    const clients = Array.from({ length: o.clients }, (_, n) =>
      runClient(n, {
        nc: cloud.nc,
        seed: o.seed,
        history,
        recorder,
        resources,
        running: () => Date.now() < deadline,
      }),
    );
    await sleep(o.durationMs);
    injector.stop();
    await injector.done;
    await injector.settle();
    io.say('faults stopped; waiting for the clients and for every acknowledged command to end');
    await Promise.all(clients);
    const quiesced = await untilEnded(history.records, recorder, 120_000);
    if (!quiesced)
      problems.push(
        'the cloud did not quiesce: some acknowledged commands had no outcome 120 s after the faults stopped',
      );

    const invariants = await finalAudit(cloud.nc, io.say);
    const stores = await openStores(cloud.nc);
    const final = new Map<string, FinalInstance>(
      (await stores.instances.entries()).map((e) => [e.key, { vmState: e.value.vmState, flavor: e.value.flavor.name }]),
    );
    // Every placement write and every event (a repair published during the final audit too)
    // is checked before the verdict; one the observers could not reach is an observer-error.
    await Promise.all([placementLog.caughtUp(30_000), recorder.caughtUp(cloud.nc, 30_000)]);
    placementLog.stop();
    history.add({ k: 'end', t: Date.now(), quiesced });
    recorder.stop();
    await history.close();

    const violations = check({ history: history.records, invariants, final });
    const summary = summarize(history.records);
    const injected = Object.entries(summary.faults).reduce((n, [k, c]) => n + (k === 'driver' ? 0 : c), 0);
    if (o.faults.some((k) => k !== 'driver') && o.rate > 0 && injected === 0) problems.push('no fault was injected');
    clean = violations.length === 0 && problems.length === 0;
    return { violations, summary, problems, historyFile };
  } finally {
    await cloud.stop();
    // A failed run keeps its history and the logs of every process, to chase it.
    if (clean && !io.keepDir) {
      if (io.historyFile)
        for (const sub of ['n1', 'n2', 'n3', 'hosts']) rmSync(join(dir, sub), { recursive: true, force: true });
      else rmSync(dir, { recursive: true, force: true });
    } else if (!clean) io.say(`the run directory is kept: ${dir}`);
  }
}

/** Waits until every acknowledged command has its terminal event. */
async function untilEnded(
  records: readonly { k: string }[],
  recorder: EventRecorder,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = records
      .filter((r): r is { k: 'ack'; id: string; ok: boolean } => r.k === 'ack' && (r as { ok?: boolean }).ok === true)
      .filter((r) => !recorder.hasEnded(r.id));
    if (open.length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

/**
 * The auditor on the quiesced cloud. Periodic work may still be settling (a paused host's
 * return, an evacuation's cleanup): the audit is repeated for a while, and what it finds at
 * the end is the verdict. A host's audit that repairs a leak in that window does not make
 * the run pass: the recorder keeps reading until the end, and each repair is a `healed`
 * violation.
 */
async function finalAudit(nc: Parameters<typeof collect>[0]['nc'], say: (line: string) => void) {
  let last: ReturnType<typeof audit>['violations'] = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      last = audit(await collect({ nc, timeoutMs: 5000 })).violations;
      if (last.length === 0 || Date.now() > deadline) return last;
    } catch (err) {
      if (Date.now() > deadline)
        return [{ invariant: 'audit', detail: `the audit could not read the cloud: ${String(err)}`, ids: [] }];
    }
    say(`audit: ${last.length} violations; checking again`);
    await sleep(3000);
  }
}
