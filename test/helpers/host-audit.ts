/**
 * The hosts' own audit as a test's "no leak" check: it heals, so a test that ran it and then
 * asked the auditor would pass over any leak it just repaired. Each host's report must be
 * empty: nothing found, so nothing repaired.
 */
import type { ExecutionContext } from 'ava';
import type { Cloud } from './cloud.js';

export async function nothingToRepair(t: ExecutionContext, c: Cloud, hosts: readonly string[]): Promise<void> {
  for (const h of hosts) {
    const report = await c.worker(h).auditNow();
    t.deepEqual(report.found, [], `the periodic audit of ${h} found nothing to repair`);
  }
}
