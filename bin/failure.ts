/**
 * How a command that failed says so: one line on stderr and an exit code, never a stack
 * trace (docs/cli.md, "Exit codes"). 2 when the command could not be run at all — a usage
 * error, or no server to talk to (none reachable, or the connection lost and not back) —
 * and 1 for everything else that went wrong once it could talk to one (a refusal, a
 * timeout, an unexpected reply).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { errors as natsErrors } from '@nats-io/nats-core';
import { UsageError } from './options.js';

export interface Failure {
  readonly line: string;
  readonly code: 1 | 2;
}

/** The first error in a cause chain that `is` accepts. */
function inChain<T>(err: unknown, is: (e: unknown) => e is T): T | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) if (is(e)) return e;
  return undefined;
}

const isConnectionError = (e: unknown): e is Error =>
  e instanceof natsErrors.ConnectionError || e instanceof natsErrors.ClosedConnectionError;
const isTimeout = (e: unknown): e is Error => e instanceof natsErrors.TimeoutError;
const isAuthorization = (e: unknown): e is Error =>
  e instanceof natsErrors.AuthorizationError || e instanceof natsErrors.UserAuthenticationExpiredError;

/**
 * The line and exit code of a failure. `disconnected`: the connection was down when it
 * happened, so a timeout means the server is gone rather than slow.
 */
export function failureOf(err: unknown, disconnected = false): Failure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) return { line: message, code: 2 };
  if (inChain(err, isAuthorization)) return { line: `the server refused the credentials: ${message}`, code: 1 };
  if (inChain(err, isConnectionError)) return { line: `no connection to the server: ${message}`, code: 2 };
  if (disconnected)
    return { line: `lost the connection to the server (${message}); it did not come back in time`, code: 2 };
  if (inChain(err, isTimeout))
    return {
      line: `the server did not answer in time (${message}); is the cloud up, and does its NATS cluster have a quorum?`,
      code: 1,
    };
  return { line: err instanceof Error ? `${err.name}: ${message}` : message, code: 1 };
}

/** Follows a connection's status: whether it is down right now (reconnecting). */
export function watchConnection(nc: NatsConnection): { readonly down: boolean } {
  const state = { down: false };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') state.down = true;
      else if (s.type === 'reconnect') state.down = false;
    }
  })().catch(() => undefined);
  return state;
}

/** Prints the failure as `<who>: <line>` (and, with NOVACTOR_DEBUG=1, its stack) and sets the exit code. */
export function reportFailure(who: string, err: unknown, disconnected = false): 1 | 2 {
  const f = failureOf(err, disconnected);
  process.stderr.write(`${who}: ${f.line}\n`);
  if (process.env['NOVACTOR_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
  process.exitCode = f.code;
  return f.code;
}
