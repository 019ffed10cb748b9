/**
 * The other host's part of a closed move, made durable (chaos cluster soak, seed 5): a delete
 * during or after a move, or a rollback, runs on one host and must also drop the other host's
 * side of the move in its tracker and destroy its guest. A call alone cannot promise that: the
 * other host may be dead, paused, cut off or just slow, and a host that was only unreachable
 * never rebuilds its tracker from the records, so a skipped drop stayed until its audit
 * repaired it (a leak). So the step, once the migration record is closed, also publishes a
 * `host.release` task to the other host's inbox (NV_HOST, durable, deduplicated per move and
 * host); the other host carries it out whenever it next runs, judged from its own reading of
 * the records (machines/compute releaseVerdict, reapVerdict), so a task from anyone can only
 * make it agree with them. A host that restarts in between rebuilds without the closed move,
 * and the task then finds nothing to drop.
 *
 * Why a task and not a retry, or a reconcile: a step cannot tell a dead host from a paused one
 * (a lapsed heartbeat says "taken for dead", not "restarted"), so retrying until it is known
 * gone either hangs a delete for as long as a host is down or gives up on one that comes back
 * with its memory intact; and a reconcile of closed moves on resume would only run after a
 * pause long enough to be noticed (a slow host notices nothing), or in the audit, where it is
 * a repair. The inbox is already the durable per-host queue every host drains when it runs.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { releaseGuest, releaseVerdict } from '../../machines/compute/index.js';
import { TrackerErrorCode } from '../../machines/tracker/index.js';
import {
  encodeMessage,
  envelope,
  subjects,
  type Envelope,
  type HostReleaseTask,
  type InstanceRecord,
  type MigrationRecord,
} from '../../protocol/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { isOpenMigration, migrationIdOf, type RecordBucket } from '../records/index.js';
import type { Clock, KillPoint, Outcome } from '../runtime/index.js';
import type { TrackerGate } from '../tracker/index.js';

/** Publishes the release of migration `mid` to `host`; the stream has it when this resolves. */
export async function publishRelease(
  d: { readonly js: JetStreamClient; readonly clock: Clock; readonly prefix?: string },
  host: string,
  rec: { readonly instanceId: string; readonly project: string; readonly user: string },
  mid: string,
): Promise<void> {
  // One task per move and host: a step run again, or the other cleanup step of the same move,
  // adds nothing (and a late duplicate only finds nothing left to do).
  const msgId = `${mid}:release:${host}`;
  const env = envelope({
    id: msgId,
    type: 'host.release',
    ts: d.clock.now(),
    project: rec.project,
    user: rec.user,
    corr: mid,
    body: { instanceId: rec.instanceId, migrationId: mid },
  });
  await d.js.publish(subjects(d.prefix).host(host), encodeMessage(env), { msgID: msgId });
}

export interface ReleaseDeps {
  readonly host: string;
  readonly tracker: TrackerGate;
  readonly driver: HypervisorDriver;
  readonly instances: RecordBucket<InstanceRecord>;
  readonly migrations: RecordBucket<MigrationRecord>;
  readonly clock: Clock;
  /**
   * This host's actor of an instance whose guest goes is dropped too (it is fenced anyway), if
   * it holds the record at `upToEpoch` or older.
   */
  readonly forget: (instanceId: string, upToEpoch?: number) => void;
  /** Runs `fn` with no step of the instance running here (InstanceHost.exclusive); undefined when busy. */
  readonly exclusive: <T>(instanceId: string, fn: () => Promise<T>) => Promise<T> | undefined;
  readonly log: (line: string, err?: unknown) => void;
  readonly killPoint?: KillPoint;
}

/** How soon a release whose instance has a step running here is tried again. */
const BUSY_RETRY_MS = 1000;

/** The inbox's handler of `host.release`: converges when run again (a redelivery after a kill). */
export function releaseHandler(d: ReleaseDeps) {
  return async (env: Envelope, task: HostReleaseTask): Promise<Outcome> => {
    const mig = (await d.migrations.get(task.migrationId))?.value;
    if (mig && mig.instanceId !== task.instanceId) {
      d.log(`dropping a release of ${task.migrationId}: it is not a move of ${task.instanceId}`);
      return 'term';
    }
    const verdict = releaseVerdict(mig, d.host, env.ts, d.clock.now());
    if (verdict === 'ack') d.log(`release of ${task.migrationId}: its record never showed it closed; left as it is`);
    if (typeof verdict !== 'object' || !('kind' in verdict)) return verdict;
    for (const side of verdict.sides) {
      const dropped = await d.tracker.use((t) =>
        t.handle({
          type: 'dropMoveClaim',
          opId: `${task.migrationId}:release:${side}`,
          migrationId: task.migrationId,
          side,
        }),
      );
      if (!dropped.ok && dropped.error.code !== TrackerErrorCode.ClaimNotFound)
        throw new Error(`release of ${task.migrationId}: the ${side} side was not dropped: ${dropped.error.message}`);
    }
    // The guest goes unless a live instance here needs it: the instance came back to this host,
    // or a newer move of it involves this host. Judged and carried out with no step of the
    // instance running here: a move back here whose finish spawns the guest between this
    // reading of the records and the destroy would lose it (CI chaos suite, seed 13); held
    // off, that finish spawns after the destroy, and a reading after its hand-off keeps it.
    const judged = d.exclusive(task.instanceId, async (): Promise<Outcome> => {
      const rec = (await d.instances.get(task.instanceId))?.value;
      const current = currentMoveId(rec);
      const newer = current && current !== task.migrationId ? (await d.migrations.get(current))?.value : undefined;
      const open = newer && isOpenMigration(newer) ? [newer] : [];
      const guest = releaseGuest(task.instanceId, rec, open, d.host, env.ts, d.clock.now());
      if (typeof guest === 'object') return guest;
      await d.killPoint?.('release.judged', {
        instanceId: task.instanceId,
        migrationId: task.migrationId,
        verdict: guest,
      });
      if (guest === 'reap') {
        d.forget(task.instanceId, rec?.epoch);
        await d.driver.destroy(task.instanceId);
      }
      return 'ack';
    });
    return judged ?? { retryAfterMs: BUSY_RETRY_MS };
  };
}

/** The migration id of the move the instance's persisted machine is in, if any. */
function currentMoveId(rec: InstanceRecord | undefined): string | undefined {
  const move = (rec?.machine as { context?: { move?: { opId?: unknown } | null } } | undefined)?.context?.move;
  return rec && typeof move?.opId === 'string' ? migrationIdOf(rec.instanceId, move.opId) : undefined;
}
