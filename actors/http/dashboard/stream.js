// Reads the dashboard's event stream (/dashboard/events, server-sent events) with fetch, which
// can send the token as a header where EventSource cannot: no token ever goes in a URL.

/** One frame's `event` and parsed `data` (undefined for a comment, a heartbeat). */
function parse(text) {
  let event = 'message';
  const data = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue;
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? undefined : { event, data: JSON.parse(data.join('\n')) };
}

/**
 * Hands each event of one connection to `on(event, data)`; resolves 'ended' when the stream ends
 * and 'unauthorized' when the token is refused, and rejects when it breaks or `signal` aborts it.
 */
export async function readEvents(token, signal, on) {
  const r = await fetch('/dashboard/events', { headers: { 'x-auth-token': token }, signal, cache: 'no-store' });
  if (r.status === 401) return 'unauthorized';
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'ended';
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (frame) on(frame.event, frame.data);
    }
    if (buffer.length > 1 << 20) throw new Error('no frame ends'); // start again rather than grow
  }
}
