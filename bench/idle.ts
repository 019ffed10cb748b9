/**
 * Idle cost (issue 17): a cloud of H compute hosts (in farm processes) doing nothing but being
 * alive — heartbeats, inbox pulls, the conductor's view of them. Once every host is up, the
 * CPU each process uses over a quiet window, as a share of one core: the control plane
 * (nats-server, placement, gateway, conductor) against the goal, and the farms, whose
 * cost grows with hosts by design, apart.
 */
import { tableOf } from './boot.js';
import { delta, farmsFor, say as sayFor, startBenchCloud } from './cloud.js';
import { numOpt } from './sizes.js';
import { r1 } from './stats.js';

const say = sayFor('idle');

const CONTROL_PLANE = ['nats-server', 'placement', 'gateway', 'conductor'];

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const hosts = numOpt(args, 'hosts', { full: 10_000, quick: 1000, tiny: 10 });
  const windowS = numOpt(args, 'window', { full: 60, quick: 30, tiny: 3 });
  const farms = farmsFor(hosts);
  say(`${hosts} idle hosts in ${farms} farm processes`);
  const started = performance.now();
  const cloud = await startBenchCloud({ hosts, farms });
  try {
    const upS = (performance.now() - started) / 1000;
    // Let start-up work (registrations, first beats, the conductor's first view) settle.
    const settleS = Math.min(30, Math.max(3, windowS / 2));
    say(`all up in ${r1(upS)} s; settling ${settleS} s, then measuring ${windowS} s`);
    await new Promise((r) => setTimeout(r, settleS * 1000));
    const before = cloud.cpu();
    const writesBefore = await cloud.writes();
    await new Promise((r) => setTimeout(r, windowS * 1000));
    const used = delta(before, cloud.cpu());
    const writes = delta(writesBefore, await cloud.writes());
    const share = (ms: number) => ms / (windowS * 1000);
    const byProcess = Object.fromEntries(Object.entries(used).map(([k, ms]) => [k, r1(share(ms) * 100)]));
    const control = CONTROL_PLANE.reduce((n, k) => n + (used[k] ?? 0), 0);
    const farmMs = Object.entries(used)
      .filter(([k]) => k.startsWith('farm'))
      .reduce((n, [, ms]) => n + ms, 0);
    const results = {
      hosts,
      farms,
      upSeconds: r1(upS),
      windowSeconds: windowS,
      percentOfACore: byProcess,
      controlPlanePercent: r1(share(control) * 100),
      farmsPercent: r1(share(farmMs) * 100),
      farmMsPerHostPerSecond: Math.round((farmMs / hosts / windowS) * 1000) / 1000,
      streamWritesPerSecond: Object.fromEntries(
        Object.entries(writes)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => [k, r1(n / windowS)]),
      ),
    };
    const controlByRole = CONTROL_PLANE.map((k) => `${k} ${byProcess[k] ?? 0}`).join(', ');
    const table = tableOf([
      [
        `control-plane CPU with ${hosts.toLocaleString('en-US')} idle hosts (${CONTROL_PLANE.join(', ')})`,
        `${results.controlPlanePercent} % of a core (${controlByRole})`,
        '≤ 25 % of a core',
      ],
      [
        'the hosts themselves (farm processes)',
        `${results.farmsPercent} % of a core, ${results.farmMsPerHostPerSecond} ms per host per second`,
        '',
      ],
      [
        'JetStream writes per second while idle',
        Object.entries(results.streamWritesPerSecond)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || 'none',
        '',
      ],
    ]);
    return { results, table };
  } finally {
    await cloud.stop();
  }
}
