/**
 * OpenStack microversions (the `OpenStack-API-Version: <service> <major>.<minor>` header, and
 * `latest`), negotiated as oslo/microversion-parse does for Placement and Nova: absent means the
 * service's minimum, a malformed one is 400, one outside the range is 406.
 */

export interface Version {
  readonly major: number;
  readonly minor: number;
}

export interface VersionRange {
  readonly min: Version;
  readonly max: Version;
}

export type Negotiated =
  | { readonly ok: true; readonly version: Version }
  | { readonly ok: false; readonly status: 400 | 406; readonly detail: string };

export const versionText = (v: Version): string => `${v.major}.${v.minor}`;

/** Whether `v` is at least `major.minor`. */
export const atLeast = (v: Version, major: number, minor: number): boolean =>
  v.major > major || (v.major === major && v.minor >= minor);

const compare = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor;

/**
 * The version `header` (the `OpenStack-API-Version` value, possibly naming several services,
 * comma-separated) asks of `service` within `range`.
 */
export function negotiate(header: string | undefined, service: string, range: VersionRange): Negotiated {
  const asked = header
    ?.split(',')
    .map((part) => part.trim().split(/\s+/))
    .find(([name]) => name?.toLowerCase() === service);
  if (!asked) return { ok: true, version: range.min };
  const text = asked[1] ?? '';
  if (asked.length !== 2) return { ok: false, status: 400, detail: `invalid version string: ${asked.join(' ')}` };
  if (text.toLowerCase() === 'latest') return { ok: true, version: range.max };
  const m = /^([1-9]\d{0,3}|0)\.(\d{1,4})$/.exec(text);
  if (!m) return { ok: false, status: 400, detail: `invalid version string: ${text}` };
  const version = { major: Number(m[1]), minor: Number(m[2]) };
  if (compare(version, range.min) < 0 || compare(version, range.max) > 0)
    return { ok: false, status: 406, detail: `Unacceptable version header: ${text}` };
  return { ok: true, version };
}
