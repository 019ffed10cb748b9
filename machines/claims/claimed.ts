/**
 * What an instance claims of its host — in its tracker and in placement — given its flavor and
 * whether it is volume-backed (docs/volumes.md, "Boot from volume"). The one rule every claim
 * follows: the scheduler's request, the tracker's claims and their rebuild from the records,
 * every move's claims, and the audits that judge them.
 *
 * A volume-backed instance's root disk lives in its volume, not on the host: it claims no
 * `DISK_GB` for it, as Nova counts no root_gb when the request spec `is_bfv`
 * (nova/scheduler/utils.py resources_from_request_spec; the resource tracker's usage likewise).
 */
import type { BootVolume } from '../../protocol/schemas/instance.js';
import type { ExtraSpecs } from '../../protocol/schemas/internal.js';

/** The sizes of a flavor a claim counts (the tracker's `flavor` of a claim has this shape). */
export interface Sizes {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly rootGb: number;
}

/**
 * Whether an instance claims as a volume-backed one: booted from a volume, by a record that says
 * its claim leaves the root disk out (`bootVolume.rootDiskClaimed: false`, written by every boot
 * from a volume since novactor stopped claiming it). A record booted from a volume before that has
 * no such mark: it claimed its flavor's root disk then, placement still holds it, and it goes on
 * claiming it, moves included — as Nova goes on counting root_gb for a request spec written before
 * it had `is_bfv`. Whether a root disk exists on the host at all is `bootVolume` alone.
 */
export const volumeBackedClaim = (r: { readonly bootVolume?: BootVolume | undefined }): boolean =>
  r.bootVolume?.rootDiskClaimed === false;

/** What the instance's claim counts of `flavor`: all of it, but no root disk when volume-backed. */
export function claimedSizes(flavor: Sizes, volumeBacked: boolean): Sizes {
  return { vcpus: flavor.vcpus, memoryMb: flavor.memoryMb, rootGb: volumeBacked ? 0 : flavor.rootGb };
}

/**
 * The same claim in placement: `VCPU`, `MEMORY_MB` and `DISK_GB` (none when 0), changed by the
 * flavor's `resources:CLASS=N` extra specs (0 removes a class), as the scheduler asks placement
 * for them. A spec naming `DISK_GB` still claims it for a volume-backed instance: Nova's request
 * leaves out only what it derives from the flavor.
 */
export function claimedResources(flavor: Sizes, volumeBacked: boolean, specs?: ExtraSpecs): Record<string, number> {
  const s = claimedSizes(flavor, volumeBacked);
  const r: Record<string, number> = { VCPU: s.vcpus, MEMORY_MB: s.memoryMb };
  if (s.rootGb > 0) r['DISK_GB'] = s.rootGb;
  for (const [key, value] of Object.entries(specs ?? {})) {
    if (!key.startsWith('resources:')) continue;
    const rc = key.slice('resources:'.length);
    if (Number(value) === 0) delete r[rc];
    else r[rc] = Number(value);
  }
  return r;
}
