/**
 * Reading guests out of /proc (Linux). The process driver keeps no memory of its guests
 * beyond small state files: a guest is whatever process carries the guest marker and
 * this host on its command line, so a compute worker restarted after `kill -9` finds the
 * same guests, and a guest whose state file was lost is still seen (an orphan).
 */
import { readdir, readFile } from 'node:fs/promises';
import type { GuestSpec } from './driver.js';

/** The first argument of every guest: what makes a process one of ours. */
export const GUEST_MARKER = '--novactor-guest';

export interface GuestProcess {
  readonly pid: number;
  readonly host: string;
  readonly instanceId: string;
  /** The spec the guest was started with, from its command line. */
  readonly spec: GuestSpec | undefined;
  /** Stopped by SIGSTOP (state T): paused or suspended. */
  readonly stopped: boolean;
}

/** The command line a guest is started with (after the node binary). */
export function guestArgs(script: string, spec: GuestSpec): string[] {
  const encoded = Buffer.from(JSON.stringify(spec)).toString('base64url');
  return [
    script,
    GUEST_MARKER,
    '--host',
    spec.host,
    '--instance',
    spec.instanceId,
    '--name',
    spec.name,
    '--spec',
    encoded,
  ];
}

/** The scheduler state letter of a process, or undefined if it is gone (or a zombie: exited, not yet reaped). */
export async function processState(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in parentheses may itself hold spaces or parentheses: the state is after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X' || state === '' ? undefined : state;
}

/** The guest running as `pid`, if that process is a live guest (pids are reused: always check the command line). */
/** The NMI of the process driver: SIGUSR2 (SIGUSR1 would start node's inspector in a guest not yet listening). */
export const NMI_SIGNAL = 'SIGUSR2';
const SIGUSR2_NUMBER = 12;

/** True when the process has a handler for the NMI signal installed (`SigCgt` in /proc/<pid>/status). */
export async function catchesNmi(pid: number): Promise<boolean> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << BigInt(SIGUSR2_NUMBER - 1))) !== 0n;
}

export async function readGuest(pid: number): Promise<GuestProcess | undefined> {
  let raw: string;
  try {
    raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  const args = raw.split('\0');
  const at = args.indexOf(GUEST_MARKER);
  if (at < 0) return undefined;
  const opts = new Map<string, string>();
  for (let i = at + 1; i + 1 < args.length; i += 2) opts.set(args[i] ?? '', args[i + 1] ?? '');
  const host = opts.get('--host');
  const instanceId = opts.get('--instance');
  if (!host || !instanceId) return undefined;
  const state = await processState(pid);
  if (state === undefined) return undefined;
  return { pid, host, instanceId, spec: decodeSpec(opts.get('--spec')), stopped: state === 'T' || state === 't' };
}

/** Every live guest process of `host`. */
export async function scanGuests(host: string): Promise<GuestProcess[]> {
  const entries = await readdir('/proc');
  const found = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readGuest(Number(e))));
  return found.filter((g): g is GuestProcess => g !== undefined && g.host === host).sort((a, b) => a.pid - b.pid);
}

function decodeSpec(encoded: string | undefined): GuestSpec | undefined {
  if (!encoded) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    return isSpec(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Narrows data read back from disk or a command line (never `as T` on bytes). */
export function isSpec(v: unknown): v is GuestSpec {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const f = s['flavor'] as Record<string, unknown> | null | undefined;
  return (
    typeof s['instanceId'] === 'string' &&
    typeof s['name'] === 'string' &&
    typeof s['host'] === 'string' &&
    (s['image'] === undefined || typeof s['image'] === 'string') &&
    typeof f === 'object' &&
    f !== null &&
    typeof f['name'] === 'string' &&
    typeof f['vcpus'] === 'number' &&
    typeof f['memoryMb'] === 'number' &&
    typeof f['rootGb'] === 'number'
  );
}
