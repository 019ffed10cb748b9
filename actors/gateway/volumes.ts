/**
 * Volumes (the part of Cinder that Nova relies on): `nv.volume.<project>.create|list|show|delete|extend`,
 * request/reply in the `gateway` queue group (docs/protocol.md §8.12, docs/volumes.md). Every request may
 * be sent again after a timeout, to any gateway, and finishes what an interrupted one began: `create`
 * derives the volume's id from the request id and completes a volume still `creating`; `delete` goes on
 * from `deleting` (the record says so before the file goes, and goes last); `extend` goes on from
 * `extending`. Every change of a record is a compare-and-set (changeVolume), so concurrent requests on
 * one volume, and the hosts' attachments, are taken one at a time. Another project's volume is not found.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { beginDelete, beginExtend, created, extended, type VolumeRefusal } from '../../machines/volumes/index.js';
import { volumeType, subjects, type Envelope, type VolumeRecord, type VolumeView } from '../../protocol/index.js';
import type { VolumeStore } from '../../virt/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { type Answer, type Clock, type IdSource, serveProjectFamily } from '../runtime/index.js';
import { changeVolume, derivedUuid, type Stores, type VolumeOutcome } from '../records/index.js';

export interface VolumeServiceOptions {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly volumeStore: VolumeStore;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly prefix?: string;
  readonly log?: (line: string, err?: unknown) => void;
}

const refuse = (status: number, code: string, message: string): Answer => ({
  ok: false,
  error: { status, code, message },
});
const notFound = (id: string) => refuse(404, 'VolumeNotFound', `volume ${id} not found`);
const refused = (r: VolumeRefusal) => refuse(r.status, r.code, r.message);

export function serveVolumes(o: VolumeServiceOptions): Subscription {
  return serveProjectFamily({
    nc: o.nc,
    ctx: { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' },
    head: `${subjects(o.prefix).prefix}.volume.`,
    typeOf: volumeType,
    what: 'volume',
    handle: volumeService(o.stores, o.volumeStore, o.clock),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** What a client sees of a volume. */
export function volumeView(v: VolumeRecord): VolumeView {
  return {
    id: v.volumeId,
    name: v.name,
    sizeGb: v.sizeGb,
    status: v.status,
    multiattach: v.multiattach,
    bootable: v.imageId !== undefined,
    attachments: v.attachments.map((a) => ({
      attachmentId: a.attachmentId,
      instanceId: a.instanceId,
      host: a.host,
      device: a.device,
    })),
    project: v.project,
    user: v.user,
  };
}

/** A volume's delete from `deleting` on: the file, then the record (a re-run after a kill in between goes on). */
export async function finishDelete(stores: Pick<Stores, 'volumes'>, files: VolumeStore, v: VolumeRecord) {
  await files.remove(v.path);
  await stores.volumes.remove(v.volumeId);
}

/** The five operations, for one project's request each. */
export function volumeService(
  stores: Stores,
  files: VolumeStore,
  clock: Clock,
): (project: string, req: Envelope<Record<string, unknown>>) => Promise<Answer> {
  const volumes = stores.volumes;

  const mine = async (project: string, id: string) => {
    const r = await volumes.get(id);
    return r && r.value.project === project ? r.value : undefined;
  };
  const answer = (id: string, out: VolumeOutcome): Answer =>
    out.ok ? { ok: true, body: { volume: volumeView(out.volume) } } : out.refusal ? refused(out.refusal) : notFound(id);

  const create = async (project: string, req: Envelope<Record<string, unknown>>): Promise<Answer> => {
    const volumeId = derivedUuid(`volume:${project}:${req.id}`);
    const format = await files.format();
    const now = clock.now();
    const volume: VolumeRecord = {
      volumeId,
      name: String(req.body['name']),
      project,
      user: req.user,
      sizeGb: Number(req.body['sizeGb']),
      status: 'creating',
      multiattach: req.body['multiattach'] === true,
      format,
      path: files.pathOf(volumeId, format),
      attachments: [],
      createdAt: now,
      updatedAt: now,
    };
    let v = volume;
    try {
      await volumes.create(volumeId, volume);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      const cur = await mine(project, volumeId); // the same request again: finish what it began
      if (!cur) throw err;
      v = cur;
    }
    if (v.status !== 'creating') return { ok: true, body: { volume: volumeView(v) } };
    // The record says `creating` before the file exists: a crash between leaves a record the retry (or a
    // delete) finishes, never a file no record names.
    await files.create(v.path, v.format, v.sizeGb);
    const out = await changeVolume(volumes, volumeId, (cur) => created(cur, clock.now()));
    if (!out.ok && !out.refusal) await files.remove(v.path); // deleted while it was being made
    return answer(volumeId, out);
  };

  const remove = async (project: string, id: string): Promise<Answer> => {
    if (!(await mine(project, id))) return notFound(id);
    const out = await changeVolume(volumes, id, (cur) => beginDelete(cur, clock.now()));
    if (!out.ok) return out.refusal ? refused(out.refusal) : { ok: true, body: {} };
    await finishDelete(stores, files, out.volume);
    return { ok: true, body: {} };
  };

  const extend = async (project: string, id: string, sizeGb: number): Promise<Answer> => {
    if (!(await mine(project, id))) return notFound(id);
    const begun = await changeVolume(volumes, id, (cur) => beginExtend(cur, sizeGb, clock.now()));
    if (!begun.ok) return answer(id, begun);
    // The record says `extending` (no attach can reserve it) before the file grows.
    await files.grow(begun.volume.path, begun.volume.format, sizeGb);
    return answer(id, await changeVolume(volumes, id, (cur) => extended(cur, clock.now())));
  };

  return async (project, req) => {
    const op = req.type.slice('volume.'.length);
    if (op === 'create') return create(project, req);
    if (op === 'list') {
      const all = (await volumes.entries()).filter((e) => e.value.project === project);
      const out = all.map((e) => volumeView(e.value));
      return {
        ok: true,
        body: { volumes: out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)) },
      };
    }
    const id = String(req.body['volumeId']);
    if (op === 'delete') return remove(project, id);
    if (op === 'extend') return extend(project, id, Number(req.body['sizeGb']));
    const cur = await mine(project, id);
    return cur ? { ok: true, body: { volume: volumeView(cur) } } : notFound(id);
  };
}
