/**
 * `novactor chaos --driver libvirt` in `npm test` (issue 16): real QEMU guests under a private
 * libvirtd per host, the seeded workload of every other chaos run, and besides the kills and
 * pauses of the roles, the libvirt driver's own failures: kill -9 of a host's libvirtd (its
 * role restarts it; the guests run on) and kill -9 of a guest's QEMU (the instance becomes
 * stopped, a lifecycle event, not a leak). The run must end with no violation — I7 compares
 * libvirt's domains with the records — and both libvirt faults must have struck.
 */
import test from 'ava';
import { runChaos } from '../../chaos/run.js';
import { cleanRun } from '../helpers/chaos.js';
import { withLibvirt } from '../helpers/libvirt.js';

const say = (line: string) => {
  if (process.env['NV_TEST_LOG']) console.error(`[chaos libvirt] ${line}`);
};

withLibvirt('chaos libvirt', () => {
  test('chaos libvirt - seed 41, 40 s, 2 libvirt hosts: kills, pauses, libvirtd and QEMU kills; no violation', async (t) => {
    t.timeout(600_000);
    const r = await runChaos(
      {
        seed: 41,
        durationMs: 40_000,
        clients: 2,
        hosts: 2,
        faults: ['kill', 'pause', 'libvirtd', 'qemu'],
        rate: 30,
        cluster: 1,
        driver: 'libvirt',
      },
      { say },
    );
    cleanRun(t, r);
    t.true((r.summary.faults['libvirtd'] ?? 0) > 0, 'a libvirtd was killed');
    t.true((r.summary.faults['qemu'] ?? 0) > 0, "a guest's QEMU was killed");
  });
});
