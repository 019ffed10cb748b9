/**
 * novactor's flavors as Nova's API shows them. A novactor flavor has a name and no other id, so
 * its Nova `id` is its name (Nova's flavor ids are strings: `GET /flavors/m1.tiny` works). Pure.
 */
import type { FlavorRecord } from '../../protocol/schemas/internal.js';
import { atLeast, type Version } from './microversion.js';

const links = (url: string, id: string) => [
  { rel: 'self', href: `${url}/flavors/${encodeURIComponent(id)}` },
  { rel: 'bookmark', href: `${url.replace(/\/v2\.1$/, '')}/flavors/${encodeURIComponent(id)}` },
];

/** `GET /flavors` (not detail): id, name, links (and description from 2.55). */
export const flavorSummary = (f: FlavorRecord, url: string, v: Version) => ({
  id: f.name,
  name: f.name,
  links: links(url, f.name),
  ...(atLeast(v, 2, 55) ? { description: null } : {}),
});

/** `GET /flavors/{id}` and `/flavors/detail`. */
export function flavorDetail(f: FlavorRecord, url: string, v: Version): Record<string, unknown> {
  return {
    id: f.name,
    name: f.name,
    vcpus: f.vcpus,
    ram: f.memoryMb,
    disk: f.rootGb,
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    swap: '',
    rxtx_factor: 1.0,
    'os-flavor-access:is_public': true,
    links: links(url, f.name),
    ...(atLeast(v, 2, 55) ? { description: null } : {}),
    ...(atLeast(v, 2, 61) ? { extra_specs: f.extraSpecs ?? {} } : {}),
  };
}

/** Flavors in Nova's default order (by flavorid, i.e. by name) after a marker, at most `limit`. */
export function pageFlavors(all: readonly FlavorRecord[], q: URLSearchParams): FlavorRecord[] | string {
  let rows = [...all].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const minRam = q.get('minRam');
  if (minRam !== null) {
    if (!/^\d+$/.test(minRam)) return `Invalid input for query parameters minRam. Value: ${minRam}.`;
    rows = rows.filter((f) => f.memoryMb >= Number(minRam));
  }
  const minDisk = q.get('minDisk');
  if (minDisk !== null) {
    if (!/^\d+$/.test(minDisk)) return `Invalid input for query parameters minDisk. Value: ${minDisk}.`;
    rows = rows.filter((f) => f.rootGb >= Number(minDisk));
  }
  const marker = q.get('marker');
  if (marker !== null) {
    const i = rows.findIndex((f) => f.name === marker);
    if (i < 0) return `marker [${marker}] not found`;
    rows = rows.slice(i + 1);
  }
  const limit = q.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit)) return `Invalid input for query parameters limit. Value: ${limit}.`;
    rows = rows.slice(0, Number(limit));
  }
  return rows;
}
