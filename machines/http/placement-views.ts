/**
 * Placement's JSON as its HTTP API shows it at a microversion (the placement actor's replies are
 * 1.39 in camelCase, docs/protocol.md §9): snake_case names, the fields and links each version
 * has, and errors in Placement's shape. Pure.
 */
import type { ProviderBody } from '../../protocol/schemas/placement.js';
import { atLeast, versionText, type Version, type VersionRange } from './microversion.js';

/** What novactor's Placement API serves: 1.0 to 1.39, as Placement 8.0. */
export const PLACEMENT_VERSIONS: VersionRange = { min: { major: 1, minor: 0 }, max: { major: 1, minor: 39 } };

type Link = { rel: string; href: string };

/** A resource provider as `GET /resource_providers/{uuid}` shows it at `v`, its links under `base`. */
export function providerJson(p: ProviderBody, v: Version, base: string): Record<string, unknown> {
  const self = `${base}/resource_providers/${p.uuid}`;
  const links: Link[] = [
    { rel: 'self', href: self },
    { rel: 'inventories', href: `${self}/inventories` },
    { rel: 'usages', href: `${self}/usages` },
  ];
  if (atLeast(v, 1, 1)) links.push({ rel: 'aggregates', href: `${self}/aggregates` });
  if (atLeast(v, 1, 6)) links.push({ rel: 'traits', href: `${self}/traits` });
  if (atLeast(v, 1, 11)) links.push({ rel: 'allocations', href: `${self}/allocations` });
  return {
    uuid: p.uuid,
    name: p.name,
    generation: p.generation,
    ...(atLeast(v, 1, 14)
      ? { parent_provider_uuid: p.parentProviderUuid, root_provider_uuid: p.rootProviderUuid }
      : {}),
    links,
  };
}

export interface InventoryView {
  readonly total: number;
  readonly reserved: number;
  readonly minUnit: number;
  readonly maxUnit: number;
  readonly stepSize: number;
  readonly allocationRatio: number;
}

export const inventoryJson = (i: InventoryView) => ({
  total: i.total,
  reserved: i.reserved,
  min_unit: i.minUnit,
  max_unit: i.maxUnit,
  step_size: i.stepSize,
  allocation_ratio: i.allocationRatio,
});

/** An inventory as written over HTTP, as the placement actor takes it; unknown keys are kept for it to refuse. */
export function inventoryInput(body: Record<string, unknown>): Record<string, unknown> {
  const names: Record<string, string> = {
    min_unit: 'minUnit',
    max_unit: 'maxUnit',
    step_size: 'stepSize',
    allocation_ratio: 'allocationRatio',
  };
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [names[k] ?? k, v]));
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Placement's error body; `code` from 1.23 on (and always on a 406, which also names the range). */
export function placementError(
  status: number,
  detail: string,
  code: string,
  requestId: string,
  v: Version | undefined,
): Record<string, unknown> {
  const withCode = v === undefined || atLeast(v, 1, 23);
  return {
    errors: [
      {
        status,
        title: TITLES[status] ?? 'Error',
        detail,
        request_id: requestId,
        ...(withCode ? { code } : {}),
        ...(status === 406
          ? { max_version: versionText(PLACEMENT_VERSIONS.max), min_version: versionText(PLACEMENT_VERSIONS.min) }
          : {}),
      },
    ],
  };
}

/** `GET /`: the version document clients read first. */
export const placementRoot = () => ({
  versions: [
    {
      id: 'v1.0',
      max_version: versionText(PLACEMENT_VERSIONS.max),
      min_version: versionText(PLACEMENT_VERSIONS.min),
      status: 'CURRENT',
      links: [{ rel: 'self', href: '' }],
    },
  ],
});
