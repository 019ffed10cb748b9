/**
 * A delete the conductor answers (machines/conductor/delete.ts decides): gathers the record
 * and whether its host is down, carries out the plan, releases the open moves' allocations
 * and finishes over the record read again.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { decideDelete, decideDeleteEnd, ownerHost } from '../../machines/conductor/index.js';
import type { Envelope, HostCommandTask } from '../../protocol/index.js';
import { publishRelease } from '../compute/index.js';
import type { Clock, Outcome } from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { isOpenMigration, isHostDown, type Stores } from '../records/index.js';
import type { Planner } from './planner.js';

export interface DeleteDeps {
  readonly js: JetStreamClient;
  readonly prefix?: string;
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
    // An open move of it holds its source side under the migration consumer: that goes too. Its
    // hosts' sides and guests go by release tasks (actors/compute/move-release.ts), carried out
    // once the record below is closed, whenever each host next runs (the down one included: it
    // may only be paused). Published first: a redelivery finds the move still open and does
    // all of it again.
    for (const { value: m } of await d.stores.migrations.entries()) {
      if (m.instanceId !== id || !isOpenMigration(m)) continue;
      for (const host of new Set([m.sourceHost, m.destHost]))
        if (host)
          await publishRelease(d, host, { instanceId: id, project: env.project, user: env.user }, m.migrationId);
      await d.placement.deleteAllocations(m.migrationId);
      await closeMigration(d, m.migrationId);
    }
    const again = await d.stores.instances.get(id);
    return d.planner.carryOut(decideDeleteEnd({ task, stored: again, now: d.clock.now() }), c);
  };
}

/** The move ended with its instance: `error`, as a delete during a move closes it on a host. */
async function closeMigration(d: DeleteDeps, mid: string): Promise<void> {
  for (;;) {
    const cur = await d.stores.migrations.get(mid);
    if (!cur || !isOpenMigration(cur.value)) return;
    try {
      await d.stores.migrations.update(mid, { ...cur.value, status: 'error', updatedAt: d.clock.now() }, cur.revision);
      return;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
}
