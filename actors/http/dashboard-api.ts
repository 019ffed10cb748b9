/**
 * The dashboard at `/` (docs/http-api.md, Dashboard): one HTML page, four small script modules and
 * a style sheet, served as they are from the package (no build step), and the live event stream
 * (dashboard-events.ts). The page itself signs in through Identity and reads and acts through the
 * Compute and Placement APIs with its token, so every rule stays where it is; this mount only
 * serves files and bridges events. Mounted at the root (`''`): it answers what no other API's
 * prefix does, and anything it does not know is 404.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keystoneError } from '../../machines/http/index.js';
import { projectRoot, type Clock } from '../runtime/index.js';
import { EventStreams, type EventStreamOptions } from './dashboard-events.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import type { Tokens } from './tokens.js';

/** The page's files: path → file in actors/http/dashboard/ and its type. */
const FILES: Readonly<Record<string, readonly [string, string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  ...Object.fromEntries(
    ['dashboard.js', 'kit.js', 'stream.js', 'usage.js'].map((f) => [
      `/dashboard/${f}`,
      [f, 'text/javascript; charset=utf-8'] as const,
    ]),
  ),
};

/**
 * Only the page's own files may run or style it, it may talk only to this origin, and no other
 * site may frame it: a server name is shown as text, and even a mistake there could not load script.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export interface DashboardApi extends MountedApi {
  /** Event streams open now. */
  readonly streams: number;
}

export function dashboardApi(
  tokens: Tokens,
  o: { readonly clock: Clock } & Omit<EventStreamOptions, 'tokens' | 'clock'>,
): DashboardApi {
  const events = new EventStreams({ ...o, tokens });
  const dir = join(projectRoot(), 'actors', 'http', 'dashboard');
  const cache = new Map<string, string>();
  // Read once, when first asked for (a few KiB each); a missing file is a 500, not a crash.
  const file = (name: string) => {
    let text = cache.get(name);
    if (text === undefined) cache.set(name, (text = readFileSync(join(dir, name), 'utf8')));
    return text;
  };
  const error = (status: number, title: string, message: string, headers?: Record<string, string>): ApiResponse => ({
    status,
    body: keystoneError(status, title, message),
    ...(headers ? { headers } : {}),
  });

  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const path = req.path === '/index.html' ? '/' : req.path;
    const known = FILES[path];
    if (path === '/dashboard/events') {
      if (req.method !== 'GET') return notAllowed(req, 'GET');
      return events.answer(req);
    }
    if (!known) return error(404, 'Not Found', 'The resource could not be found.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(req, 'GET, HEAD');
    return { status: 200, text: file(known[0]), headers: { ...PAGE_HEADERS, 'content-type': known[1] } };
  };
  const notAllowed = (req: ApiRequest, allow: string) =>
    error(405, 'Method Not Allowed', `The method ${req.method} is not allowed for this resource.`, { allow });

  return {
    prefix: '',
    handle,
    get streams() {
      return events.streams;
    },
    refusal: (status, message) => error(status, 'Request Entity Too Large', message),
    internalError: () =>
      error(500, 'Internal Server Error', 'An unexpected error prevented the server from fulfilling your request.'),
  };
}
