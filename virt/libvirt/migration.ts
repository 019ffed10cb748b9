/**
 * A libvirt live migration, watched: `virsh migrate --live --p2p` (the source's libvirtd drives
 * it, so it goes on if the caller dies), `--copy-storage-all --migrate-disks` (the guest's own
 * disks, whole as the guest sees them — its base may be one the destination cannot have: an
 * unshelved instance's base is its shelved image, deleted after the unshelve, and a resized
 * one's disk has no base at all, so copying only the overlay would leave the destination
 * reading another base through it — and never its volumes, which both hosts reach),
 * `--persistent --undefinesource` (the domain is defined at the destination and no longer
 * here), and `--xml`/`--persistent-xml` (the destination's own paths and metadata, for the
 * running guest and for its definition — which also has the USB NICs unplugged for the copy).
 * While it runs, `control` is asked each poll: abort → `domjobabort` (the guest stays here,
 * running); complete → the guest is paused so that the copy converges (Nova's force-complete
 * without post-copy), and its destination unpauses it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { MigrationControl } from '../driver.js';
import { checkAborted, VirtError, VirtErrorCode } from '../errors.js';
import { virshError, type Virsh } from './virsh.js';

export async function runMigration(
  virsh: Virsh,
  instanceId: string,
  o: {
    xmlFile: string;
    /** The destination's definition: the running guest's but for the interfaces plugged since boot (driver.ts). */
    persistentXmlFile: string;
    uri: string;
    /** The guest's disks of this host (its overlay, its config drive), copied; its volumes are not. */
    localDisks: readonly string[];
    control: MigrationControl;
    pollMs: number;
    signal?: AbortSignal | undefined;
  },
): Promise<'migrated' | 'aborted'> {
  const call = virsh.start([
    'migrate',
    '--live',
    '--p2p',
    '--persistent',
    '--undefinesource',
    '--copy-storage-all',
    '--migrate-disks',
    o.localDisks.join(','),
    // A volume's file is one both hosts open (the volume store: shared storage); libvirt would
    // refuse to leave a disk behind that is not on a filesystem it knows as shared.
    '--unsafe',
    '--xml',
    o.xmlFile,
    '--persistent-xml', // the destination's persistent definition too, else it keeps the source's paths
    o.persistentXmlFile,
    instanceId,
    o.uri,
  ]);
  let aborting = false;
  let abortedAt = 0;
  let completing = false;
  while (!call.done()) {
    await Promise.race([call.ended, delay(o.pollMs)]);
    if (call.done()) break;
    // The actor stopped: leave the job to libvirtd; the step run again waits for its end.
    checkAborted(o.signal, instanceId);
    if (aborting && Date.now() - abortedAt > ABORT_GRACE_MS) {
      // libvirt 9.0 has been seen to leave `virsh migrate` waiting for good after a cancel
      // (the job reads "Cancelled", the guest runs here; CI, 2026-12-04): the client goes,
      // and the source is asked until its job is over.
      call.kill();
      await call.ended;
      await untilNoJob(virsh, instanceId, o.pollMs, o.signal);
      return 'aborted';
    }
    const next = await o.control().catch(() => 'continue' as const); // a record unreadable now: go on
    if (next === 'abort' && !aborting) {
      // Only a job that runs is cancelled: one cancelled while it is still being set up (the
      // destination's disks, the NBD server) is what left libvirt hanging. Not running yet,
      // or the cancel refused: asked again at the next poll.
      if (await jobRunning(virsh, instanceId)) {
        aborting = await virsh.run(['domjobabort', instanceId], { instanceId }).then(
          () => true,
          () => false,
        );
        abortedAt = Date.now();
      }
    } else if (next === 'complete' && !completing) {
      completing = true;
      await virsh.run(['suspend', instanceId], { instanceId }).catch(() => undefined);
    }
  }
  const end = await call.ended;
  if (end.code === 0) return 'migrated';
  if (aborting) return 'aborted';
  throw virshError(end.stderr, instanceId);
}

/** How long a cancelled migration may take to end before its virsh client is dropped. */
const ABORT_GRACE_MS = 30_000;

/** Whether the domain's migration job is under way (`domjobinfo`: an unbounded job that has moved data). */
async function jobRunning(virsh: Virsh, instanceId: string): Promise<boolean> {
  const info = await virsh.maybe(['domjobinfo', instanceId], { instanceId }).catch(() => undefined);
  if (info === undefined || !/^Job type:\s*Unbounded/m.test(info)) return false;
  const processed = /^Data processed:\s*([\d.]+)/m.exec(info);
  return processed !== null && Number(processed[1]) > 0;
}

/** Waits while libvirtd runs a job on the domain (an earlier call's migration); absent: no job. */
export async function untilNoJob(
  virsh: Virsh,
  instanceId: string,
  pollMs: number,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    let info: string | undefined;
    try {
      info = await virsh.maybe(['domjobinfo', instanceId], { signal, instanceId });
    } catch (err) {
      // An inactive domain has no job: libvirt answers `domjobinfo` on one "domain is not
      // running" — e.g. `shut off (migrated)` just before a migration undefines it. Taken for
      // a failure, it crashed the step run again after a killed live migration, whose rollback
      // then destroyed the only copy of the guest (CI, 2026-12-03, logs kept).
      if (err instanceof VirtError && err.code === VirtErrorCode.InvalidState) return;
      throw err;
    }
    if (info === undefined || /^Job type:\s*None/m.test(info)) return;
    checkAborted(signal, instanceId);
    await delay(pollMs);
  }
}

/** The URI a source's libvirtd reaches this host's at: a private daemon by its socket, else over TCP. */
export function defaultMigrationUri(uri: string, host: string): string {
  if (uri.startsWith('qemu:///') && uri.includes('socket=')) return uri.replace('qemu:///', 'qemu+unix:///');
  return `qemu+tcp://${host}/system`;
}
