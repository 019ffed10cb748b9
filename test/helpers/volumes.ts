/** Volume requests and checks over the public protocol, for the volume tests. */
import { randomUUID } from 'node:crypto';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  volumeType,
  type Envelope,
  type VolumeView,
} from '../../protocol/index.js';
import type { Cloud } from './cloud.js';

/** A `nv.volume.<project>.<op>` request; the reply envelope. */
export async function volumeCall(
  c: Cloud,
  op: string,
  body: Record<string, unknown>,
  o: { project?: string; id?: string } = {},
): Promise<Envelope> {
  const project = o.project ?? 'demo';
  const env = envelope({
    id: o.id ?? randomUUID(),
    type: volumeType(op),
    ts: Date.now(),
    project,
    user: 'alice',
    body,
  });
  const reply = await c.client.nc.request(subjects().volume(project, op), encodeMessage(env), { timeout: 30_000 });
  const r = decodeMessage(reply.data, MessageKind.Reply);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

export const volumeOf = (r: Envelope): VolumeView => {
  if (r.type === 'error') throw new Error(JSON.stringify(r.body));
  return (r.body as { volume: VolumeView }).volume;
};

/** A new volume of the project `demo`. */
export async function newVolume(c: Cloud, name: string, extra: Record<string, unknown> = {}): Promise<VolumeView> {
  return volumeOf(await volumeCall(c, 'create', { name, sizeGb: 1, ...extra }));
}

/**
 * What disagrees between a volume's record, its instance's record and its guest: every attached
 * attachment's instance lists the volume (with the same device) and the instance's guest has it,
 * and every instance listing it has an attached attachment. Empty when they all agree.
 */
export async function volumeProblems(c: Cloud, volumeId: string, instanceIds: readonly string[]): Promise<string[]> {
  const p: string[] = [];
  const v = (await c.stores.volumes.get(volumeId))?.value;
  for (const id of instanceIds) {
    const rec = (await c.stores.instances.get(id))?.value;
    const bdm = rec?.blockDevices?.find((b) => b.volumeId === volumeId);
    const att = v?.attachments.find((a) => a.instanceId === id);
    // One attachment per instance at rest: a live migration's second is gone by its end or rollback.
    const count = v?.attachments.filter((a) => a.instanceId === id).length ?? 0;
    if (count > 1) p.push(`${id} has ${count} attachments of ${volumeId}`);
    if (rec?.taskState) p.push(`${id} still has task ${rec.taskState}`);
    if (att && att.status !== 'attached') p.push(`${id}'s attachment is ${att.status}`);
    if (bdm && !att) p.push(`${id} lists ${volumeId} with no attachment`);
    if (att && !bdm) p.push(`${volumeId} is attached to ${id}, which does not list it`);
    if (att && bdm && att.device !== bdm.device) p.push(`device ${att.device} vs ${bdm.device}`);
    // The attachment names the host the guest runs on (a move carries it, docs/volumes.md).
    if (att && rec?.host && rec.vmState !== 'shelved_offloaded' && att.host !== rec.host)
      p.push(`${id}'s attachment names ${att.host}, its guest runs on ${rec.host}`);
    for (const [name, h] of c.hosts)
      if (name !== rec?.host && h.fake.guest(id)?.volumes?.[volumeId] !== undefined)
        p.push(`a guest of ${id} on ${name} still has ${volumeId}`);
    const guest = rec?.host ? c.hosts.get(rec.host)?.fake.guest(id) : undefined;
    const onGuest = guest?.volumes?.[volumeId];
    // A root volume is the guest's own disk (spawned from it), not a hot-plugged one.
    if (att && att.bootIndex === undefined && rec?.vmState !== 'deleted' && onGuest !== att.device)
      p.push(`${id}'s guest has it on ${onGuest}`);
    if (!att && onGuest !== undefined) p.push(`${id}'s guest still has ${volumeId}`);
  }
  if (v) {
    const want = v.attachments.length === 0 ? 'available' : 'in-use';
    if (v.status !== want) p.push(`volume is ${v.status}, not ${want}`);
  }
  return p;
}
