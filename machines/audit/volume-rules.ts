/**
 * I8: volumes and instances agree (docs/volumes.md, docs/audit.md). In a quiet cloud every
 * attachment is `attached` and belongs to a live instance that lists the volume on the same device
 * and runs on the host it names (a move carries it);
 * every volume an instance lists has that attachment; a volume's status is what its attachments
 * give, and no volume is stuck in a passing state (creating, extending, deleting). An instance has
 * one attachment per volume, but for the time of an open live migration: then one on each of its
 * hosts, the destination's `attaching` until the post step completes it (docs/volumes.md).
 */
import type { MigrationRecord } from '../../protocol/schemas/internal.js';
import { statusOf } from '../volumes/index.js';
import { moveHosts, openMovesByInstance } from './moves.js';
import { isDeleted, type Observation, type Violation } from './observation.js';

export function checkI8(o: Observation): Violation[] {
  const out: Violation[] = [];
  const volumes = o.volumes ?? [];
  const instances = new Map(o.instances.map((i) => [i.instanceId, i]));
  const byId = new Map(volumes.map((v) => [v.volumeId, v]));
  const bad = (detail: string, ids: string[]) => out.push({ invariant: 'I8', detail, ids });
  const moves = openMovesByInstance(o);
  /** The instance's open live migration, whose two hosts may each hold an attachment. */
  const liveOf = (instanceId: string): MigrationRecord | undefined =>
    (moves.get(instanceId) ?? []).find((m) => m.kind === 'live-migration');
  for (const v of volumes) {
    if (v.status === 'creating' || v.status === 'extending' || v.status === 'deleting')
      bad(`volume ${v.volumeId} is stuck ${v.status}`, [v.volumeId]);
    // A create that failed (a boot's root volume whose image did not fit): Cinder's `error`, at rest.
    else if (v.status === 'error' && v.attachments.length === 0) continue;
    else if (v.status !== statusOf(v.attachments))
      bad(`volume ${v.volumeId} is ${v.status}, its attachments make it ${statusOf(v.attachments)}`, [v.volumeId]);
    for (const a of v.attachments) {
      const i = instances.get(a.instanceId);
      const what = `attachment of volume ${v.volumeId} to instance ${a.instanceId}`;
      const live = liveOf(a.instanceId);
      if (!i || isDeleted(i))
        bad(`${what}: the instance is ${i ? 'deleted' : 'unknown'} (leaked)`, [v.volumeId, a.instanceId]);
      // A live migration's destination attachment is `attaching` from before the copy to its post step.
      else if (a.status !== 'attached' && !(live && a.status === 'attaching' && a.host === live.destHost))
        bad(`${what} is ${a.status} (an attach or detach left half done)`, [v.volumeId, a.instanceId]);
      else if (!i.blockDevices?.some((b) => b.volumeId === v.volumeId && b.device === a.device))
        bad(`${what} on ${a.device}: the instance does not list it there`, [v.volumeId, a.instanceId]);
      else if (i.host !== null && a.host !== i.host && !(live && moveHosts(live).includes(a.host)))
        bad(`${what} names host ${a.host}, the instance's guest runs on ${i.host}`, [v.volumeId, a.instanceId]);
    }
    // Two attachments of one instance: only a live migration's, one on each of its hosts.
    const byInstance = new Map<string, string[]>();
    for (const a of v.attachments) byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a.host]);
    for (const [instanceId, hosts] of byInstance) {
      if (hosts.length < 2) continue;
      const live = liveOf(instanceId);
      const on = hosts.join(', ');
      const what = `volume ${v.volumeId} has ${hosts.length} attachments of instance ${instanceId} (on ${on})`;
      if (!live)
        bad(`${what} and no live migration of it is open (one left by a migration's end or rollback)`, [
          v.volumeId,
          instanceId,
        ]);
      else if (hosts.length > 2 || new Set(hosts).size < 2 || !hosts.every((h) => moveHosts(live).includes(h)))
        bad(`${what}: its live migration has one on each of ${moveHosts(live).join(' and ')}`, [
          v.volumeId,
          instanceId,
        ]);
    }
  }
  for (const i of o.instances) {
    // A boot from volume that found no host lists its root and holds nothing, as in Nova: not a leak.
    if (isDeleted(i) || i.host === null) continue;
    for (const b of i.blockDevices ?? []) {
      const v = byId.get(b.volumeId);
      // Its root volume never made (`error`): listed as Nova lists the BDM of a failed build.
      if (v?.status === 'error') continue;
      if (!v?.attachments.some((a) => a.instanceId === i.instanceId))
        bad(
          `instance ${i.instanceId} lists volume ${b.volumeId} on ${b.device}, which ${v ? 'has no attachment for it' : 'does not exist'}`,
          [i.instanceId, b.volumeId],
        );
    }
  }
  return out;
}
