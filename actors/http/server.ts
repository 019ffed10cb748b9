/**
 * The HTTP face (docs/http-api.md): one listener that translates OpenStack's HTTP APIs to
 * novactor's NATS protocol, stateless, any number of them beside each other. Each API is
 * mounted under its prefix (`/identity`, `/compute`, `/image`, `/placement`; the dashboard at
 * the root, `''`); every request gets an `x-openstack-request-id`, a body over the limit is 413,
 * and anything a handler throws is a 500 in that API's error shape — never a crashed process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IdSource } from '../runtime/index.js';

/** A request as an API's handler sees it: its path below the API's prefix, its parsed parts. */
export interface ApiRequest {
  readonly method: string;
  /** Below the API's prefix, without the query: `/resource_providers/…`, `/` for the root. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The raw body, undefined when there was none. */
  readonly body: Buffer | undefined;
  readonly requestId: string;
  /** The API's mount point (`/placement`), for links and Location headers. */
  readonly base: string;
}

export interface ApiResponse {
  readonly status: number;
  /** JSON-encoded when present. */
  readonly body?: unknown;
  /** A body sent as it is, instead of `body` (its `content-type` among the headers). */
  readonly text?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A body written over time (server-sent events): called with the response once its head is
   * sent, it writes and ends it, and must let go of what it holds when the response closes.
   */
  readonly stream?: (out: ServerResponse) => void;
}

export interface MountedApi {
  /** Where it is mounted: `/placement`; `''` is the root, which takes what no other API's prefix does. */
  readonly prefix: string;
  handle(req: ApiRequest): Promise<ApiResponse>;
  /**
   * A larger body limit for some requests (an image's data), judged on the request's line and
   * headers before any of its body is read — so that only a caller it admits may send that much.
   * Undefined: the listener's limit.
   */
  bodyLimit?(req: {
    readonly method: string;
    readonly path: string;
    readonly headers: IncomingMessage['headers'];
  }): Promise<number | undefined>;
  /** The API's own shape of a refusal made before its handler runs (a body too large); a bare message otherwise. */
  refusal?(status: number, message: string): ApiResponse;
  /** The API's own shape of an internal error (its handler threw). */
  internalError(req: ApiRequest, err: unknown): ApiResponse;
}

export interface HttpApiOptions {
  readonly host: string;
  readonly port: number;
  readonly apis: readonly MountedApi[];
  /** Larger bodies are refused 413 before they are read whole (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Request ids (`req-<id>`). */
  readonly ids: IdSource;
  readonly log?: (line: string, err?: unknown) => void;
}

export interface HttpApi {
  /** `http://host:port`. */
  readonly url: string;
  stop(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

export async function startHttpApi(o: HttpApiOptions): Promise<HttpApi> {
  const maxJson = o.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      o.log?.(`http: ${req.method} ${req.url}: could not answer`, err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = `req-${o.ids.next()}`;
    const url = new URL(req.url ?? '/', 'http://api');
    // The longest prefix wins, so that an API at the root (`''`) never hides one mounted below it.
    const api = o.apis
      .filter((a) => url.pathname === a.prefix || url.pathname.startsWith(`${a.prefix}/`))
      .reduce<MountedApi | undefined>(
        (best, a) => (best && best.prefix.length >= a.prefix.length ? best : a),
        undefined,
      );
    if (!api) return send(res, requestId, { status: 404, body: { message: `no API at ${url.pathname}` } });
    const path = url.pathname.slice(api.prefix.length) || '/';
    const max = (await api.bodyLimit?.({ method: req.method ?? 'GET', path, headers: req.headers })) ?? maxJson;
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => {
      const message = `request bodies are at most ${max} bytes`;
      send(res, requestId, api.refusal?.(413, message) ?? { status: 413, body: { message } });
    };
    if (declared > max) {
      req.resume();
      return tooLarge();
    }
    const body = await readBody(req, max);
    if (body === 'too large') return tooLarge();
    const request: ApiRequest = {
      method: req.method ?? 'GET',
      path,
      query: url.searchParams,
      headers: req.headers,
      body,
      requestId,
      base: api.prefix,
    };
    let answer: ApiResponse;
    try {
      answer = await api.handle(request);
    } catch (err) {
      o.log?.(`http: ${request.method} ${url.pathname} (${requestId}) failed`, err);
      answer = api.internalError(request, err);
    }
    send(res, requestId, answer);
  };

  // A request Node's parser refuses (a Content-Length that is not a number, say) never reaches
  // `serve`: say why instead of Node's bare 400.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const [status, why] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? ['431 Request Header Fields Too Large', 'request headers too large']
        : [
            '400 Bad Request',
            err.code === 'HPE_INVALID_CONTENT_LENGTH'
              ? 'content-length header must be an integer'
              : 'malformed request',
          ];
    const text = JSON.stringify({ message: why });
    socket.end(
      `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, requestId: string, a: ApiResponse): void {
  const headers: Record<string, string> = { 'x-openstack-request-id': requestId, ...a.headers };
  if (a.stream) {
    res.writeHead(a.status, headers);
    a.stream(res);
    return;
  }
  if (a.text !== undefined) {
    res.writeHead(a.status, { ...headers, 'content-length': String(Buffer.byteLength(a.text)) });
    res.end(a.text);
    return;
  }
  if (a.body === undefined) {
    res.writeHead(a.status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(a.body);
  res.writeHead(a.status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** The body, undefined when empty, or 'too large' once it passes `max` (the rest is drained). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined | 'too large'> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) over = true;
      else parts.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too large' : size === 0 ? undefined : Buffer.concat(parts)));
    req.on('error', reject);
  });
}
