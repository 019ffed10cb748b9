/**
 * nats.js 3.4 (`@nats-io/nats-core`) buffers what a connection sends and writes the buffer to
 * the socket in a microtask queued by the first command after a write. A process that handles
 * many messages at once (a host farm, the conductor) runs each handler's continuation in its
 * own microtask chain, so the buffer is written many times per turn of the event loop, one
 * `socket.write` (and its syscall, its write request and its promise) per few hundred bytes:
 * `writeBuffer` was 5–6 % of every process in the boot benchmark's profiles (issue 17). This
 * writes the buffer once per turn instead, in `setImmediate`, after every handler that the
 * turn's input woke has run as far as it can. The same bytes go out in the same order, a turn
 * later at most (microseconds); the size threshold that writes a large buffer at once stays.
 * A close writes what is still buffered first: nats.js's close does not, and relied on its
 * microtask having run by then.
 *
 * Applied once, when this module is loaded (connection.ts imports it), and only to the shape
 * it knows: if a later nats.js changes `sendCommand`, the patch stands aside and says so once.
 */
import { ProtocolHandler } from '@nats-io/nats-core/internal';

interface HandlerShape {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
}

const proto = ProtocolHandler.prototype as unknown as {
  sendCommand?: (cmd: string | Uint8Array, ...payloads: Uint8Array[]) => void;
  close?: (err?: Error) => Promise<void>;
};

const encoder = new TextEncoder();

function patched(this: HandlerShape, cmd: string | Uint8Array, ...payloads: Uint8Array[]): void {
  const len = this.outbound.length();
  this.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
  if (len === 0) setImmediate(() => this.flushPending());
  else if (this.outbound.size() >= this.pendingLimit) this.flushPending();
}

/** Whether the patch is in place (false: nats.js's shape was not the expected one). */
export const writePatchApplied: boolean = (() => {
  const send = proto.sendCommand?.toString() ?? '';
  const known =
    /queueMicrotask\(\(\) => \{\s*this\.flushPending\(\);\s*\}\)/.test(send) &&
    /this\.outbound\.size\(\) >= this\.pendingLimit/.test(send) &&
    /this\.outbound\.fill\(buf, \.\.\.payloads\)/.test(send) &&
    typeof proto.close === 'function';
  if (!known) {
    process.emitWarning('novactor: nats.js sendCommand changed; its writes are left as they are');
    return false;
  }
  proto.sendCommand = patched as unknown as typeof proto.sendCommand;
  const close = proto.close!;
  proto.close = function (this: HandlerShape & { _closed?: boolean }, err?: Error) {
    if (!this._closed) this.flushPending();
    return close.call(this, err);
  };
  return true;
})();
