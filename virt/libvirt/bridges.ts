/**
 * A guest's interfaces on the host (docs/networks.md): one Linux bridge per network, made by the
 * driver when a guest on that network first comes (idempotent), and a tap device per port that
 * libvirt creates on it from the domain's `<interface type='bridge'>`. Names are derived, so
 * every host — and every driver run on one — finds the same ones: Linux allows 15 characters.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { VirtError, VirtErrorCode } from '../errors.js';

const run = promisify(execFile);
const short = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** The bridge of network `network` on every host: `nvb` and 12 hex digits of its id's hash. */
export const bridgeName = (network: string): string => `nvb${short(network, 12)}`;

/**
 * The tap device of port `portId` on `host`: derived from both, so that two hosts sharing one
 * machine (`novactor up --driver libvirt`) each plug their own during a live migration.
 */
export const tapName = (host: string, portId: string): string => `nvt${short(`${host}/${portId}`, 12)}`;

/** Makes the bridge if it is not there, and sets it up; a bridge made meanwhile by another call is taken. */
export async function ensureBridge(name: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${name}`)) {
    try {
      await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    } catch (err) {
      if (!existsSync(`/sys/class/net/${name}`))
        // No `ip`, no CAP_NET_ADMIN: trying again changes nothing.
        throw new VirtError(VirtErrorCode.DriverFailure, `cannot make bridge ${name}: ${String(err)}`, {
          cause: err,
          retryable: false,
        });
    }
  }
  await run('ip', ['link', 'set', name, 'up']).catch((err: unknown) => {
    throw new VirtError(VirtErrorCode.DriverFailure, `cannot set bridge ${name} up: ${String(err)}`, {
      cause: err,
      retryable: false,
    });
  });
}

/** The devices plugged into bridge `name` (its ports), empty when it does not exist. */
export async function bridgePorts(name: string): Promise<string[]> {
  return readdir(`/sys/class/net/${name}/brif`).catch(() => []);
}
