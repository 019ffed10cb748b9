/**
 * The dashboard's live feed (docs/http-api.md, Dashboard): `GET /dashboard/events` is a stream of
 * server-sent events bridged from the NATS event subjects the token may read — its project's
 * (`nv.evt.<project>.>`), or an admin's every project's and the system's (`nv.evt.>`) — over the
 * token's own connection, so in secure mode the NATS server's permissions bound it too.
 *
 * The token comes in `X-Auth-Token`, as everywhere else: the page reads the stream with
 * `fetch()` (which can send a header, where `EventSource` cannot), so no token is ever put in
 * a URL, where browser history and proxies' logs would keep it.
 *
 * A core subscription with a callback holds no queue of its own: each event is written to the
 * response at once. Memory stays bounded because a client more than `maxBufferedBytes` behind
 * is disconnected (the page reconnects and reloads its lists, so it misses nothing it shows),
 * at most `maxStreams` streams are open, and a closed response — the client gone, the listener
 * stopping, a revoked or expired token — ends the subscription and the heartbeat with it.
 */
import type { ServerResponse } from 'node:http';
import type { Subscription } from '@nats-io/nats-core';
import { dashboardEvent, keystoneError, sseFrame } from '../../machines/http/index.js';
import { decodeMessage, MessageKind, subjects } from '../../protocol/index.js';
import type { Clock, TimerHandle } from '../runtime/index.js';
import type { ApiRequest, ApiResponse } from './server.js';
import { rootUrlOf } from './identity-api.js';
import { isAdmin, type Identity, type Tokens } from './tokens.js';

export interface EventStreamOptions {
  readonly tokens: Tokens;
  readonly clock: Clock;
  /** The subjects' prefix (`nv`). */
  readonly prefix?: string;
  /** Open streams at most in this process (default 1000); past it a new one is refused 503. */
  readonly maxStreams?: number;
  /** A client this far behind (bytes written and not yet sent) is disconnected (default 256 KiB). */
  readonly maxBufferedBytes?: number;
  /** A comment line this often keeps idle connections open and notices a revoked token (default 15 s). */
  readonly heartbeatMs?: number;
}

export class EventStreams {
  private open = 0;
  constructor(private readonly o: EventStreamOptions) {}

  /** Streams open now (tests watch it fall back to 0). */
  get streams(): number {
    return this.open;
  }

  async answer(req: ApiRequest): Promise<ApiResponse> {
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    const who = await this.o.tokens.resolve(token);
    if (!who || token === undefined)
      return {
        status: 401,
        body: keystoneError(401, 'Unauthorized', 'The request you have made requires authentication.'),
        headers: { 'www-authenticate': `Keystone uri="${rootUrlOf(req)}/identity"` },
      };
    if (this.open >= (this.o.maxStreams ?? 1000))
      return {
        status: 503,
        body: keystoneError(503, 'Service Unavailable', 'Too many event streams are open; try again later.'),
        headers: { 'retry-after': '5' },
      };
    const s = subjects(this.o.prefix);
    const subject = isAdmin(who) ? `${s.prefix}.evt.>` : s.evtProject(who.project);
    // An issued token can be revoked or expire while its stream is open; a noauth2 one cannot.
    const issued = this.o.tokens.find(token) !== undefined;
    return {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      },
      stream: (out) => this.pipe(out, who, subject, issued ? token : undefined),
    };
  }

  private pipe(out: ServerResponse, who: Identity, subject: string, issuedToken: string | undefined): void {
    const { clock } = this.o;
    const maxBuffered = this.o.maxBufferedBytes ?? 256 * 1024;
    const admin = isAdmin(who);
    let done = false;
    let timer: TimerHandle | undefined;
    let sub: Subscription | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      this.open--;
      sub?.unsubscribe();
      if (timer) clock.clearTimeout(timer);
      out.end();
    };
    this.open++;
    const write = (chunk: string) => {
      if (done) return;
      // A client that does not read would make Node buffer for ever: past the bound it is let go.
      if (out.writableLength > maxBuffered) return finish();
      out.write(chunk);
    };
    try {
      sub = who.caller.nc.subscribe(subject, {
        callback: (err, m) => {
          if (err) return finish(); // refused by the server's permissions, or the connection closed
          const r = decodeMessage(m.data, MessageKind.Event);
          if (!r.ok) return; // not an event this face can read: someone else's problem (the audit's)
          const e = dashboardEvent(r.value, admin);
          write(sseFrame(e.system ? 'system' : 'instance', e, r.value.id));
        },
      });
    } catch {
      return finish(); // the connection is closed or draining (the process is stopping)
    }
    void sub.closed.then(finish);
    out.on('close', finish);
    const beat = () => {
      if (issuedToken !== undefined && this.o.tokens.find(issuedToken) === undefined) {
        write(sseFrame('expired', { message: 'The token was revoked or has expired.' }));
        return finish();
      }
      write(': ping\n\n');
      timer = clock.setTimeout(beat, this.o.heartbeatMs ?? 15_000);
    };
    timer = clock.setTimeout(beat, this.o.heartbeatMs ?? 15_000);
    // `ready` once the server has the subscription: whatever the page reads after it, no later event is missed.
    write('retry: 2000\n\n');
    void who.caller.nc.flush().then(
      () => write(sseFrame('ready', { subject, admin })),
      () => finish(),
    );
  }
}
