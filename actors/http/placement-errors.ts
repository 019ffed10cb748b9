/**
 * Placement's errors in the form the client asked for: Placement's are webob's, which answer a
 * client whose Accept prefers HTML with an HTML page, one that takes neither HTML nor JSON
 * with plain text, and everyone else (no Accept, or `*\/*`, counts as JSON) with the JSON body.
 */
import type { ApiRequest, ApiResponse } from './server.js';

type ErrorBody = { errors: [{ status: number; title: string; detail: string }] };

/** Which of `offers` the Accept header takes, best first (its q-values, then the order offered). */
function acceptable(accept: string, offers: readonly string[]): string[] {
  const ranges = accept.split(',').map((part) => {
    const [range, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return { range: range ?? '', q: q === undefined ? 1 : Number(q.slice(2)) };
  });
  const quality = (offer: string) => {
    const [type] = offer.split('/');
    // The most specific range that matches decides the offer's quality.
    const match =
      ranges.find((r) => r.range === offer) ??
      ranges.find((r) => r.range === `${type}/*`) ??
      ranges.find((r) => r.range === '*/*');
    return match && Number.isFinite(match.q) ? match.q : 0;
  };
  return offers
    .map((o, i) => ({ o, q: quality(o), i }))
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
    .map((x) => x.o);
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function errorAnswer(
  req: ApiRequest,
  json: Record<string, unknown>,
  headers: Record<string, string>,
): ApiResponse {
  const body = json as ErrorBody;
  const e = body.errors[0];
  const status = e.status;
  const accept = req.headers['accept'];
  const type =
    accept === undefined || accept.trim() === '' ? 'application/json' : (acceptable(accept, OFFERS)[0] ?? 'text/plain');
  if (type === 'application/json') return { status, body, headers };
  const head = `${status} ${e.title}`;
  const text =
    type === 'text/html'
      ? `<html>\n <head>\n  <title>${head}</title>\n </head>\n <body>\n  <h1>${head}</h1>\n  ` +
        `${escapeHtml(e.detail)}<br /><br />\n\n\n\n </body>\n</html>`
      : `${head}\n\n${e.detail}\n\n`;
  return { status, text, headers: { ...headers, 'content-type': `${type}; charset=UTF-8` } };
}

// JSON first: a tie (an Accept of any type, as curl and fetch send) is JSON, as Placement answers it.
const OFFERS = ['application/json', 'text/html'] as const;
