/**
 * What every long-running role command does (placement, gateway, conductor, compute): connect
 * (reconnecting forever), create the streams and buckets, run its actors under a supervisor
 * that answers `nv.ctl.<name>.*`, print one ready line, drain on SIGTERM/SIGINT, and exit
 * non-zero on a fatal error (2 for a usage error, 1 otherwise).
 */
import {
  bootstrap,
  randomIds,
  systemClock,
  type RoleContext,
  Lifecycle,
  stopOnSignals,
  InvalidOption,
  createLogger,
  logLine,
  Supervisor,
} from '../actors/runtime/index.js';
import { connectFor, UsageError, type ServerOptions } from './options.js';

/** What a role's `start` is given: the shared context, and this process's supervisor and lifecycle. */
export interface RoleStart extends RoleContext {
  readonly supervisor: Supervisor;
  readonly lifecycle: Lifecycle;
}

export interface RoleSpec {
  /** The role, as in `novactor <role>` and the supervisor's role. */
  readonly role: string;
  /** This process's ctl name. */
  readonly name: string;
  readonly replicas: () => number;
  /** The placement lease TTL, for the role that owns it (bootstrap sets the lease bucket's TTL). */
  readonly leaseTtlMs?: () => number;
  /** Parses flags before anything connects (throw UsageError on bad input). */
  readonly prepare?: () => void;
  /** Starts the role's actors; the role's own supervisor is given, not running yet. */
  readonly start: (ctx: RoleStart) => Promise<void>;
  /** The line printed once serving (scripts wait for it). */
  readonly readyLine: string;
}

export async function runRole(o: ServerOptions, spec: RoleSpec): Promise<void> {
  const logger = createLogger(spec.name);
  const log = logLine(logger);
  const lifecycle = new Lifecycle();
  stopOnSignals(lifecycle, (code) => process.exit(code));
  try {
    spec.prepare?.();
    const replicas = spec.replicas();
    const nc = await connectFor(o, spec.name);
    lifecycle.onStop('nats connection', () => nc.drain());
    exitWhenClosed(nc.closed(), lifecycle);
    const leaseTtlMs = spec.leaseTtlMs?.();
    await bootstrap(nc, { replicas, ...(leaseTtlMs !== undefined ? { leaseTtlMs } : {}) });
    const ctx = { nc, clock: systemClock, ids: randomIds, log };
    const supervisor = new Supervisor({ ...ctx, process: spec.name, role: spec.role });
    lifecycle.onStop('actors', () => supervisor.stop());
    supervisor.serveCtl();
    await spec.start({ ...ctx, supervisor, lifecycle });
    supervisor.running();
    lifecycle.running();
    process.stdout.write(`${spec.readyLine}\n`);
  } catch (err) {
    // An option a flag's own check let through but the role refuses (InvalidOption) is bad input too.
    if (err instanceof UsageError || err instanceof InvalidOption) {
      process.stderr.write(`novactor ${spec.role}: ${err.message}\n`);
      await lifecycle.stop();
      process.exit(2);
    }
    logger.error({ err }, `${spec.role} failed to start`);
    await lifecycle.fail(err);
    process.exit(1);
  }
}

/** A process name usable as a subject token. */
export const processName = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, '-');

/**
 * The connection reconnects forever, so it closes only when we drain it or on a fatal
 * error (e.g. an authorization failure): then the process stops with a non-zero code.
 */
export function exitWhenClosed(closed: Promise<void | Error>, lifecycle: Lifecycle): void {
  void closed.then((err) => {
    if (lifecycle.state !== 'running' && lifecycle.state !== 'starting') return;
    void lifecycle.fail(err ?? new Error('the NATS connection closed')).then(() => process.exit(1));
  });
}
