/**
 * `GET /servers` and `/servers/detail`: Nova's common filters (name as a regular expression,
 * status, host and node for admins, flavor, image, changes-since, ip) and its paging (limit,
 * marker, newest first), over a project's instance records. Filters Nova does not know, or
 * one a non-admin may not use, are ignored as Nova ignores them. Pure.
 */
import type { InstanceRecordView } from '../../protocol/schemas/instance.js';
import { NovaRequestError } from './server-request.js';
import { novaStatus, STATUS_NAMES } from './server-view.js';

/**
 * Nova matches `name` and `ip` as regular expressions. A tenant's pattern run as one could take
 * exponential time (`(a+)+b`) and stall the API for everyone, so only the forms clients use are
 * special — `^` first, `$` last, `.` and `.*` — and every other character matches itself: such
 * a pattern runs in linear time. Longer than 255 characters is 400.
 */
export function patternOf(text: string, what: string): RegExp {
  if (text.length > 255) throw new NovaRequestError(`Invalid filter ${what}: at most 255 characters`);
  const anchoredStart = text.startsWith('^');
  const anchoredEnd = text.endsWith('$') && text.length > (anchoredStart ? 1 : 0);
  const body = text.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
  const source = body
    .split('.*')
    .map((part) =>
      part
        .split('.')
        .map((lit) => lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))
        .join('.'),
    )
    .join('.*');
  return new RegExp(`${anchoredStart ? '^' : ''}${source}${anchoredEnd ? '$' : ''}`, 's');
}

export interface ServerPage {
  readonly servers: readonly InstanceRecordView[];
  /** Set when the page is full: the marker of the next one. */
  readonly next?: string;
}

/** Nova's default page size (`api.max_limit`). */
export const MAX_LIMIT = 1000;

export function listServers(
  all: readonly InstanceRecordView[],
  q: URLSearchParams,
  o: { readonly admin: boolean; readonly imageIdOf: (r: InstanceRecordView) => string },
): ServerPage {
  let rows = [...all];
  const name = q.get('name');
  if (name !== null && name !== '') {
    const re = patternOf(name, 'name');
    rows = rows.filter((r) => re.test(r.name));
  }
  const statuses = q.getAll('status').map((s) => s.toUpperCase());
  if (statuses.length > 0) {
    for (const s of statuses)
      if (!(STATUS_NAMES as readonly string[]).includes(s))
        throw new NovaRequestError(`Invalid status value: ${s.toLowerCase()}`);
    rows = rows.filter((r) => statuses.includes(novaStatus(r.vmState, r.taskState)));
  }
  if (o.admin) {
    const host = q.get('host');
    if (host !== null) rows = rows.filter((r) => r.host === host);
    const node = q.get('node');
    if (node !== null) rows = rows.filter((r) => r.node === node);
  }
  const flavor = q.get('flavor');
  if (flavor !== null) rows = rows.filter((r) => r.flavor.name === flavor);
  const image = q.get('image');
  if (image !== null) rows = rows.filter((r) => o.imageIdOf(r) === image);
  const ip = q.get('ip');
  if (ip !== null) {
    const re = patternOf(ip, 'ip');
    rows = rows.filter((r) => (r.ports ?? []).some((p) => p.ips.some((a) => re.test(a))));
  }
  const since = q.get('changes-since') ?? q.get('changes_since');
  if (since !== null) {
    const t = Date.parse(since);
    if (Number.isNaN(t))
      throw new NovaRequestError(`Invalid input for query parameters changes-since. Value: ${since}.`);
    rows = rows.filter((r) => r.updatedAt >= t);
  }
  const locked = q.get('locked');
  if (locked !== null) rows = rows.filter((r) => r.locked === /^(true|1|yes)$/i.test(locked));

  // Nova's default order: newest first (created_at desc, then id desc), the order markers count in.
  rows.sort((a, b) => b.createdAt - a.createdAt || (a.instanceId < b.instanceId ? 1 : -1));

  const marker = q.get('marker');
  if (marker !== null) {
    const i = rows.findIndex((r) => r.instanceId === marker);
    if (i < 0) throw new NovaRequestError(`marker [${marker}] not found`);
    rows = rows.slice(i + 1);
  }
  const limitText = q.get('limit');
  let limit = MAX_LIMIT;
  if (limitText !== null) {
    if (!/^\d+$/.test(limitText))
      throw new NovaRequestError(
        `Invalid input for query parameters limit. Value: ${limitText}. '${limitText}' does not match '^[0-9]*$'`,
      );
    limit = Math.min(Number(limitText), MAX_LIMIT);
  }
  const page = rows.slice(0, limit);
  return {
    servers: page,
    ...(limitText !== null && rows.length > limit && page.length > 0
      ? { next: page[page.length - 1]!.instanceId }
      : {}),
  };
}
