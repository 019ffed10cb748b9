/**
 * `novactor chaos` as a user runs it: bad flags exit 2 before anything starts; a short fault-free run reports and exits
 * 0.
 */
import test from 'ava';
import { runToEnd } from '../helpers/processes.js';

test('chaos cli - bad flags exit 2 with a message', async (t) => {
  for (const args of [
    ['--duration', '0s'],
    ['--duration', 'soon'],
    ['--faults', 'meteor'],
    ['--cluster', '2'],
    ['--rate', '-1'],
    ['--hosts', '0'],
    ['--replay', '/nonexistent/history.jsonl'],
    ['--driver', 'xen'],
    ['--faults', 'qemu'], // a fault of the libvirt driver, with the fake one
    ['--driver', 'libvirt', '--faults', 'kill,driver'], // the fake driver's, with libvirt
  ]) {
    const r = await runToEnd(['chaos', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    t.regex(r.err, /novactor chaos: /, args.join(' '));
  }
});

test('chaos cli - a short run without faults prints its report and exits 0; --json gives the same as data', async (t) => {
  t.timeout(180_000);
  const r = await runToEnd([
    'chaos',
    '--seed',
    '5',
    '--duration',
    '4s',
    '--faults',
    'none',
    '--hosts',
    '1',
    '--clients',
    '1',
    '--json',
  ]);
  t.is(r.code, 0, r.err);
  const report = JSON.parse(r.out) as {
    options: { seed: number };
    violations: unknown[];
    problems: unknown[];
    summary: { commands: number; acked: number; faults: Record<string, number> };
  };
  t.is(report.options.seed, 5);
  t.deepEqual(report.violations, []);
  t.deepEqual(report.problems, []);
  t.true(report.summary.commands > 0);
  t.is(report.summary.acked, report.summary.commands);
  t.deepEqual(report.summary.faults, {});
});
