/** What every chaos run in the tests must show: no violation, no problem, commands acknowledged. */
import type { ExecutionContext } from 'ava';
import type { ChaosResult } from '../../chaos/run.js';

export function cleanRun(t: ExecutionContext, r: ChaosResult): void {
  t.log(`${r.summary.commands} commands, faults ${JSON.stringify(r.summary.faults)}`);
  t.deepEqual(r.problems, []);
  t.deepEqual(
    r.violations.map((v) => `${v.kind}: ${v.detail}`),
    [],
    `history kept in ${r.historyFile}`,
  );
  t.true(r.summary.acked > 0);
}
