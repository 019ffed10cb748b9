/**
 * What the scheduler asks placement for, as Nova's request spec becomes a GET
 * /allocation_candidates (docs/scheduling.md): what the instance claims (machines/claims: the
 * flavor's resources, no root disk when volume-backed, changed by its `resources:` extra specs),
 * its `trait:` extra specs as required and forbidden traits, `aggregate_instance_extra_specs:`
 * as aggregates to be a member of, the availability zone as aggregates (Nova's
 * map_az_to_placement_aggregate prefilter), and COMPUTE_STATUS_DISABLED forbidden (Nova's
 * compute_status_filter prefilter). Pure: the caller passes the aggregates it read.
 */
import type { FlavorView } from '../../protocol/schemas/instance.js';
import type { ExtraSpecs, ImageProperties } from '../../protocol/schemas/internal.js';
import { claimedResources } from '../claims/index.js';
import { imageRequiredTraits } from './image-properties.js';

export const STATUS_DISABLED = 'COMPUTE_STATUS_DISABLED';
/** Nova's default_availability_zone: the zone of every host in no zoned aggregate. */
export const DEFAULT_ZONE = 'nova';

/** An aggregate as scheduling sees it: its placement uuid, zone and metadata. */
export interface AggregateFacts {
  readonly uuid: string;
  readonly availabilityZone: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What an instance asks a host for: a flavor (a resize's new one), its extra specs, whether it is volume-backed. */
export interface Asked {
  readonly flavor: FlavorView;
  readonly specs: ExtraSpecs | undefined;
  /** As its claims count it (`volumeBackedClaim`, machines/claims). */
  readonly volumeBacked: boolean;
}

export interface CandidatesRequest {
  readonly resources: Record<string, number>;
  readonly required: string[];
  /** Absent when no aggregate is asked for. */
  readonly memberOf?: string[][];
}

/** Namespaces whose keys mean something to scheduling now. */
const USED = ['trait', 'resources', 'aggregate_instance_extra_specs'];
/** Nova's other namespaces: kept on the flavor, not used by novactor yet. */
const RESERVED = [
  'hw',
  'hw_rng',
  'hw_video',
  'os',
  'quota',
  'pci_passthrough',
  'accel',
  'capabilities',
  'group_policy',
];
const TRAIT_RE = /^(HW|COMPUTE|STORAGE|MISC|OWNER|CUSTOM)_[A-Z0-9_]{1,240}$/;
const CLASS_RE = /^(CUSTOM_[A-Z0-9_]{1,240}|[A-Z][A-Z0-9_]{1,254})$/;

/** Why extra specs are refused (Nova's flavor extra spec validation), or undefined when they are fine. */
export function extraSpecsProblem(specs: ExtraSpecs): string | undefined {
  for (const [key, value] of Object.entries(specs)) {
    const colon = key.indexOf(':');
    const ns = key.slice(0, colon);
    const name = key.slice(colon + 1);
    if (!USED.includes(ns) && !RESERVED.includes(ns))
      return `extra spec ${key}: unknown namespace ${ns} (known: ${[...USED, ...RESERVED].join(', ')})`;
    if (ns === 'trait') {
      if (!TRAIT_RE.test(name)) return `extra spec ${key}: ${name} is not a trait name`;
      if (value !== 'required' && value !== 'forbidden')
        return `extra spec ${key}: must be required or forbidden, not ${value}`;
    }
    if (ns === 'resources') {
      if (!CLASS_RE.test(name)) return `extra spec ${key}: ${name} is not a resource class`;
      if (!/^(0|[1-9][0-9]{0,8})$/.test(value)) return `extra spec ${key}: ${value} is not an amount (0 to 999999999)`;
    }
  }
  return undefined;
}

/**
 * The candidates request for what is `asked`, in zone `zone` (undefined: any), given every
 * aggregate, for an instance of an image with properties `image`; undefined when no host can
 * match (a zone or an aggregate spec no aggregate has).
 */
export function candidatesRequest(
  asked: Asked,
  zone: string | undefined,
  aggregates: readonly AggregateFacts[],
  image?: ImageProperties,
): CandidatesRequest | undefined {
  const resources = claimedResources(asked.flavor, asked.volumeBacked, asked.specs);
  const required = new Set<string>([`!${STATUS_DISABLED}`, ...imageRequiredTraits(image)]);
  const memberOf: string[][] = [];
  for (const [key, value] of Object.entries(asked.specs ?? {})) {
    const colon = key.indexOf(':');
    const ns = key.slice(0, colon);
    const name = key.slice(colon + 1);
    if (ns === 'trait') required.add(value === 'forbidden' ? `!${name}` : name);
    else if (ns === 'aggregate_instance_extra_specs') {
      const having = aggregates.filter((a) => a.metadata[name] === value).map((a) => a.uuid);
      if (having.length === 0) return undefined;
      memberOf.push(having);
    }
  }
  if (zone !== undefined) {
    const zoned = aggregates.filter((a) => a.availabilityZone !== null);
    if (zone === DEFAULT_ZONE) {
      // The default zone: hosts in no zoned aggregate.
      if (zoned.length > 0) memberOf.push(zoned.map((a) => `!${a.uuid}`));
    } else {
      const inZone = zoned.filter((a) => a.availabilityZone === zone).map((a) => a.uuid);
      if (inZone.length === 0) return undefined;
      memberOf.push(inZone);
    }
  }
  return { resources, required: [...required].sort(), ...(memberOf.length > 0 ? { memberOf } : {}) };
}
