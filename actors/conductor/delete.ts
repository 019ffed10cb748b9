/**
 * A delete the conductor answers (machines/conductor/delete.ts decides): gathers the record
 * and whether its host is down, carries out the plan, releases the open moves' allocations
 * and finishes over the record read again.
 */
import { decideDelete, decideDeleteEnd, ownerHost } from '../../machines/conductor/index.js';
import type { Envelope, HostCommandTask } from '../../protocol/index.js';
import type { Clock, Outcome } from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import { isOpenMigration, isHostDown, type Stores } from '../records/index.js';
import type { Planner } from './planner.js';

export interface DeleteDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly clock: Clock;
  readonly planner: Planner;
}

export function unscheduledDelete(d: DeleteDeps) {
  return async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const id = task.instanceId;
    const c = { env, instanceId: id, commandId: task.commandId };
    const stored = await d.stores.instances.get(id);
    const rec = stored?.value;
    const ownerDown = rec !== undefined && rec.owner !== 'conductor' && (await isHostDown(d.stores, ownerHost(rec)));
    const plan = decideDelete({ task, stored, ownerDown, now: d.clock.now() });
    if (plan.kind === 'plan') return d.planner.carryOut(plan, c);
    if (!(await d.planner.run(plan.effects, c))) return { retryAfterMs: 0 };
    // An open move of it holds its source side under the migration consumer: that goes too.
    for (const { value: m } of await d.stores.migrations.entries())
      if (m.instanceId === id && isOpenMigration(m)) await d.placement.deleteAllocations(m.migrationId);
    const again = await d.stores.instances.get(id);
    return d.planner.carryOut(decideDeleteEnd({ task, stored: again, now: d.clock.now() }), c);
  };
}
