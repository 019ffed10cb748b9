/** Flags every command shares, and how they become a NATS connection. */
import type { Command } from 'commander';
import { connectNats } from '../actors/runtime/connection.js';
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

export async function connectFor(o: ServerOptions, name: string): Promise<NatsConnection> {
  let user: string | undefined;
  let pass: string | undefined;
  if (o.creds) {
    const { readFileSync } = await import('node:fs');
    const c = JSON.parse(readFileSync(o.creds, 'utf8')) as { user?: string; password?: string };
    user = c.user;
    pass = c.password;
  }
  return connectNats({ servers: serverUrls(o), name, ...(user !== undefined ? { user, pass: pass ?? '' } : {}) });
}

/** An integer flag, or a usage error that names the flag. */
export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
