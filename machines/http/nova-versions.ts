/**
 * Nova's microversions and version documents (docs/http-api.md): the range novactor's Compute API
 * serves, the two headers a client may ask with, and the fault shape every Nova error has. Pure.
 */
import { negotiate, versionText, type Version, type VersionRange } from './microversion.js';

/** 2.1 to 2.79: what `openstack` and openstacksdk of Debian 12 ask for, and what the views below follow. */
export const COMPUTE_VERSIONS: VersionRange = { min: { major: 2, minor: 1 }, max: { major: 2, minor: 79 } };

export type ComputeVersion =
  | { readonly ok: true; readonly version: Version }
  | { readonly ok: false; readonly status: 400 | 406; readonly message: string };

/**
 * The version a request asks for: `OpenStack-API-Version: compute 2.x` wins over the legacy
 * `X-OpenStack-Nova-API-Version: 2.x`; neither means 2.1. Nova's words for a malformed one
 * (400) and one outside the range (406).
 */
export function computeVersion(header: string | undefined, legacy: string | undefined): ComputeVersion {
  const asked = header?.split(',').some((p) => p.trim().toLowerCase().startsWith('compute'))
    ? header
    : legacy !== undefined && legacy.trim() !== ''
      ? `compute ${legacy.trim()}`
      : undefined;
  const n = negotiate(asked, 'compute', COMPUTE_VERSIONS);
  if (n.ok) return n;
  const text = asked!.trim().split(/\s+/).slice(1).join(' ');
  if (n.status === 400) return { ok: false, status: 400, message: `API Version String ${text} is of invalid format.` };
  return {
    ok: false,
    status: 406,
    message:
      `Version ${text} is not supported by the API. Minimum is ${versionText(COMPUTE_VERSIONS.min)} ` +
      `and maximum is ${versionText(COMPUTE_VERSIONS.max)}.`,
  };
}

/** The headers every versioned answer carries, naming the version used. */
export const computeVersionHeaders = (v: Version): Record<string, string> => ({
  'openstack-api-version': `compute ${versionText(v)}`,
  'x-openstack-nova-api-version': versionText(v),
  vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
});

const UPDATED = '2013-07-23T11:33:21Z';

/** v2.1 as `GET /compute/v2.1` and the root list show it; `url` is the API's base (`http://h/compute`). */
export function computeVersionEntry(url: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: versionText(COMPUTE_VERSIONS.max),
    min_version: versionText(COMPUTE_VERSIONS.min),
    updated: UPDATED,
    links: [
      { rel: 'self', href: `${url}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

/** `GET /compute/`: the versions there are (only v2.1: the v2.0 API is not served). */
export const computeRoot = (url: string) => ({ versions: [computeVersionEntry(url)] });
