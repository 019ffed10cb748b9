/**
 * What every client subcommand shares: its flags (--server, --creds, --project, --user,
 * --json), one connection, request/reply through envelopes, and the exit codes
 * (0 done, 1 refused or failed, 2 usage error).
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import {
  adminType,
  envelope,
  imageType,
  groupType,
  netType,
  volumeType,
  isProjectToken,
  isToken,
  queryType,
  subjects,
  type Subjects,
} from '../../protocol/index.js';
import { ADMIN_PROJECT, CallError, callService } from '../../actors/runtime/index.js';
import { connectFor, readCreds, serverUrls, UsageError, withServerOptions, type ServerOptions } from '../options.js';
import { failureOf, reportFailure, watchConnection } from '../failure.js';

export interface ClientOptions extends ServerOptions {
  project: string;
  user?: string;
}

/**
 * The user a client acts as when --user is not given: $NOVACTOR_USER, else the user of its
 * --creds file (secure mode: the identity the server knows it by), else the operator.
 */
export const defaultUser = (creds?: string) =>
  process.env['NOVACTOR_USER'] || (creds && isToken(readCreds(creds).user) ? readCreds(creds).user : 'admin');

/**
 * Adds the client flags, and makes commander's own usage errors (a missing argument, an
 * unknown option) exit 2 like ours; help and version still exit 0.
 */
export function withClientOptions(cmd: Command): Command {
  return withServerOptions(cmd)
    .option('--project <id>', 'the project to act in', 'demo')
    .option('--user <id>', 'the user to act as (default: $NOVACTOR_USER, else the --creds user, else admin)')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}

/** A refusal from a service: the error envelope's `{ status, code, message }` (one class for every caller). */
export { CallError };

/** A command whose outcome did not arrive in time (it may still complete). */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

export class ClientSession {
  readonly js: JetStreamClient;
  readonly s: Subjects = subjects();
  constructor(
    readonly nc: NatsConnection,
    readonly project: string,
    readonly user: string,
    readonly json: boolean,
  ) {
    this.js = jetstream(nc);
  }

  /** One request/reply; an error envelope becomes a CallError. */
  async request<T>(
    subject: string,
    type: string,
    body: Record<string, unknown>,
    timeoutMs = 10_000,
    project = this.project,
    id: string = randomUUID(),
  ): Promise<T> {
    const req = envelope({ id, type, ts: Date.now(), project, user: this.user, body });
    return callService<T>(this.nc, subject, req, timeoutMs, { hint: '; is novactor up?' });
  }

  /** `nv.query.<project>.<what>`. */
  query<T>(what: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(this.s.query(this.project, what), queryType(what), body);
  }

  /**
   * `nv.image.<project>.<op>` (a user's upload); `id` the same on every retry, which is what
   * makes a retried `create` find the image its first attempt made.
   */
  image<T>(op: string, body: Record<string, unknown>, timeoutMs = 30_000, id?: string): Promise<T> {
    return this.request<T>(this.s.image(this.project, op), imageType(op), body, timeoutMs, this.project, id);
  }

  /** `nv.group.<project>.<op>` (server groups); `id` the same on every retry, so a retried `create` makes one group. */
  group<T>(op: string, body: Record<string, unknown>, id?: string): Promise<T> {
    return this.request<T>(this.s.group(this.project, op), groupType(op), body, 10_000, this.project, id);
  }

  /** `nv.net.<project>.<kind>.<op>` (networks, subnets, ports); the same `id` on a retry: a `create` makes one. */
  net<T>(op: string, body: Record<string, unknown>, id?: string): Promise<T> {
    return this.request<T>(this.s.net(this.project, op), netType(op), body, 10_000, this.project, id);
  }

  /** `nv.net.admin.<op>`: a network request in the admin project (the claims' audit). */
  netAdmin<T>(op: string, body: Record<string, unknown>): Promise<T> {
    return this.request<T>(this.s.net(ADMIN_PROJECT, op), netType(op), body, 10_000, ADMIN_PROJECT);
  }

  /** `nv.volume.<project>.<op>` (volumes); `id` the same on every retry, so a retried `create` makes one volume. */
  volume<T>(op: string, body: Record<string, unknown>, id?: string): Promise<T> {
    return this.request<T>(this.s.volume(this.project, op), volumeType(op), body, 60_000, this.project, id);
  }

  /** `nv.admin.<op>`, in the admin project (the only one a secure gateway takes admin requests from). */
  admin<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(this.s.admin(op), adminType(op), body, 10_000, ADMIN_PROJECT);
  }
}

/** A subject token given on the command line, or a usage error naming the flag. */
export function tokenArg(what: string, value: string): string {
  if (!isToken(value))
    throw new UsageError(`${what} must be letters, digits, _ or - (1-128 chars), got ${JSON.stringify(value)}`);
  return value;
}

/** The server's permission refusal somewhere in an error's cause chain (secure mode). */
function permissionViolation(err: unknown): InstanceType<typeof natsErrors.PermissionViolationError> | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof natsErrors.PermissionViolationError) return e;
  }
  return undefined;
}

type Runner = (c: ClientSession) => Promise<string | object | number | void>;

/**
 * Runs one client command: `parse` checks the flags first (a usage error exits 2 without
 * connecting) and returns what to run once connected. Prints what that returns (a string
 * as is, anything else as JSON; a number is the exit code) and maps errors to exit codes:
 * 1 for a refusal, a failure or a timeout, 2 for a usage error or no server (bin/failure.ts).
 * Whatever goes wrong, it is one line on stderr, never a stack trace.
 */
export async function runClient(o: ClientOptions, parse: () => Runner): Promise<void> {
  let nc: NatsConnection | undefined;
  let connection: { readonly down: boolean } | undefined;
  try {
    const user = o.user ?? defaultUser(o.creds);
    if (!isProjectToken(o.project))
      throw new UsageError(
        `--project must be letters, digits, _ or - and not start with _, got ${JSON.stringify(o.project)}`,
      );
    tokenArg('--user', user);
    const run = parse();
    try {
      nc = await connectFor(o, 'novactor-cli');
    } catch (err) {
      const f = failureOf(err);
      process.stderr.write(
        `novactor: cannot connect to ${serverUrls(o).join(',')}: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = f.code;
      return;
    }
    connection = watchConnection(nc);
    const out = await run(new ClientSession(nc, o.project, user, !!o.json));
    if (typeof out === 'number') process.exitCode = out;
    else if (typeof out === 'string') process.stdout.write(out);
    else if (out !== undefined) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } catch (err) {
    if (err instanceof CallError) {
      process.stderr.write(`novactor: ${err.status} ${err.code}: ${err.message}\n`);
      process.exitCode = connection?.down ? 2 : 1;
    } else if (err instanceof WaitTimeout) {
      process.stderr.write(
        `novactor: ${err.message}${connection?.down ? ' (the connection to the server is lost)' : ''}\n`,
      );
      process.exitCode = connection?.down ? 2 : 1;
    } else if (permissionViolation(err)) {
      process.stderr.write(
        `novactor: 403 NotAuthorized: the NATS server refused: ${permissionViolation(err)!.message} (check --creds and --project)\n`,
      );
      process.exitCode = 1;
    } else reportFailure('novactor', err, connection?.down);
  } finally {
    await nc?.close().catch(() => undefined);
  }
}
