/** Reading a stream of server-sent events in a test (the dashboard's /dashboard/events). */

export interface Frame {
  readonly event: string;
  readonly id?: string;
  readonly data: Record<string, unknown>;
}

/** Reads a server-sent event stream frame by frame. */
export class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  constructor(
    private readonly reader: {
      read(): Promise<{ value?: Uint8Array; done: boolean }>;
      cancel(): Promise<void>;
    },
  ) {}

  /** The next frame with data whose event is `event` (others skipped); undefined when the stream ends first. */
  async next(event: string): Promise<Frame | undefined> {
    for (;;) {
      let end;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of text.split('\n')) {
          const m = /^([a-z]+): ?(.*)$/.exec(line);
          if (m) fields.set(m[1]!, m[2]!);
        }
        const data = fields.get('data');
        if (fields.get('event') === event && data !== undefined)
          return {
            event,
            ...(fields.has('id') ? { id: fields.get('id')! } : {}),
            data: JSON.parse(data) as Record<string, unknown>,
          };
      }
      const { value, done } = await this.reader.read();
      if (done) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

/** Opens the stream with `token`; resolves once it is `ready` (subscribed: nothing after this is missed). */
export async function openDashboardEvents(url: string, token: string): Promise<SseReader> {
  const r = await fetch(`${url}/dashboard/events`, { headers: { 'x-auth-token': token } });
  if (r.status !== 200) throw new Error(`stream: ${r.status} ${await r.text()}`);
  const sse = new SseReader(r.body!.getReader());
  if (!(await sse.next('ready'))) throw new Error('the stream ended before it was ready');
  return sse;
}
