/**
 * nats.js 3.4 (`@nats-io/nats-core`): `RequestOne.resolver()` settles a request's promise and
 * then calls `cancel()`, which rejects that already settled promise with a `new
 * RequestError("cancelled")` — a JavaScript Error, stack and all, built for nothing on every
 * request that succeeds. Profiles of the boot benchmark put it at 4–14 % of every process's
 * CPU (issue 17). This replaces `resolver` with the same steps minus that rejection; `cancel()`
 * called from outside (a closed connection, a caller giving up) is untouched and still rejects.
 *
 * Applied once, when this module is loaded (connection.ts imports it), and only to the shape it
 * knows: if a later nats.js changes `RequestOne`, the patch stands aside and says so once.
 */
import { errors } from '@nats-io/nats-core';
import { RequestOne } from '@nats-io/nats-core/internal';

interface RequestShape {
  timer?: { cancel(): void };
  ctx?: Error & { cause?: unknown };
  deferred: { resolve(m: unknown): void; reject(e: unknown): void };
  mux: { cancel(r: unknown): void };
}

const proto = RequestOne.prototype as unknown as {
  resolver?: (err: Error | null, msg: unknown) => void;
  cancel?: (err?: Error) => void;
};

function patched(this: RequestShape, err: Error | null, msg: unknown): void {
  this.timer?.cancel();
  if (err) {
    let out: Error = err;
    // As nats.js does: a timeout keeps its own stack; anything else is a RequestError.
    if (!(err instanceof errors.TimeoutError)) {
      if (this.ctx) {
        this.ctx.message = err.message;
        this.ctx.cause = err;
        out = this.ctx;
      } else out = new errors.RequestError(err.message, { cause: err });
    }
    this.deferred.reject(out);
  } else this.deferred.resolve(msg);
  this.mux.cancel(this); // what cancel() does besides the rejection
}

/** Whether the patch is in place (false: nats.js's shape was not the expected one). */
export const requestPatchApplied: boolean = (() => {
  const resolver = proto.resolver?.toString() ?? '';
  const cancel = proto.cancel?.toString() ?? '';
  const known = /this\.cancel\(\)/.test(resolver) && /mux\.cancel\(this\)/.test(cancel);
  if (!known) {
    process.emitWarning('novactor: nats.js RequestOne changed; its per-request Error is left as it is');
    return false;
  }
  proto.resolver = patched as unknown as typeof proto.resolver;
  return true;
})();
