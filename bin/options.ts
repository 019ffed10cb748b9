/** Flags every command shares, and how they become a NATS connection. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { connectNats, DEFAULT_REPLICAS, REPLICAS, SECOND_MS } from '../actors/runtime/index.js';
import type { NatsConnection } from '@nats-io/nats-core';

export interface ServerOptions {
  server?: string;
  creds?: string;
  json?: boolean;
  project?: string;
}

export function withServerOptions(cmd: Command): Command {
  return cmd
    .option('--server <urls>', 'NATS server URL(s), comma-separated (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--creds <file>', 'credentials file ({ "user", "password" })')
    .option('--json', 'print JSON for scripts');
}

export function serverUrls(o: ServerOptions): string[] {
  return (o.server ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222').split(',').filter(Boolean);
}

/** The `{ user, password }` of a `--creds` file; a file that is not one is a usage error. */
export function readCreds(file: string): { user: string; password: string } {
  let c: { user?: unknown; password?: unknown };
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as typeof c;
  } catch (err) {
    throw new UsageError(`--creds ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof c.user !== 'string' || typeof c.password !== 'string')
    throw new UsageError(`--creds ${file} is not a { "user": …, "password": … } file`);
  return { user: c.user, password: c.password };
}

export async function connectFor(o: ServerOptions, name: string): Promise<NatsConnection> {
  const c = o.creds ? readCreds(o.creds) : undefined;
  return connectNats({ servers: serverUrls(o), name, ...(c ? { user: c.user, pass: c.password } : {}) });
}

/** An integer flag, or a usage error that names the flag. */
export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

/** A `true`/`false` flag (Nova's boolean options), or a usage error that names the flag. */
export function boolFlag(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`${name} must be true or false, got ${value}`);
}

/** `--replicas`, as every role and `up` take it: default $NV_REPLICAS, else DEFAULT_REPLICAS. */
export function withReplicasOption(cmd: Command, description = 'stream and bucket replicas'): Command {
  return cmd.option('--replicas <n>', description, process.env['NV_REPLICAS'] ?? String(DEFAULT_REPLICAS));
}

export const replicasFlag = (value: string) => intFlag('--replicas', value, REPLICAS.min, REPLICAS.max);

/** A DEFAULT_…_MS as the default of a flag given in seconds (Nova's options are). */
export const inSeconds = (ms: number) => String(ms / SECOND_MS);

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Collects a repeatable flag's values. */
export const collect = (v: string, all: string[]): string[] => [...all, v];

/** `--property k=v` flags as a map; a flag without `=` is a usage error. */
export function properties(flags: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`--property must be key=value, got ${JSON.stringify(f)} (${what})`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}
