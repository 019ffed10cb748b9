/**
 * The power-state rules both drivers follow, as one pure table, so the fake and the
 * process driver cannot drift apart: given where a guest is and what is asked, either
 * nothing needs doing (idempotence), or a target state, or the request is invalid.
 */
import { PowerState, type GuestNic } from './driver.js';
import { VirtError, VirtErrorCode } from './errors.js';

export interface GuestStatus {
  readonly powerState: PowerState;
  readonly rescued: boolean;
}

/** State changes a guest can be asked for (reboot split by kind: they have different rules). */
export type GuestChange =
  | 'powerOff'
  | 'powerOn'
  | 'rebootSoft'
  | 'rebootHard'
  | 'pause'
  | 'unpause'
  | 'suspend'
  | 'resume'
  | 'rescue'
  | 'unrescue';

export type Plan =
  | { readonly kind: 'noop' }
  /** `restart`: the guest must go down and up again even if it is already running (reboot, rescue). */
  | { readonly kind: 'change'; readonly to: GuestStatus; readonly restart: boolean }
  | { readonly kind: 'invalid'; readonly reason: string };

const { Running, Paused, Shutdown, Crashed, Suspended, NoState } = PowerState;
const down = (s: PowerState): boolean => s === Shutdown || s === Crashed || s === NoState;

/** Decides what `change` means for a guest in `current`. */
export function plan(change: GuestChange, current: GuestStatus): Plan {
  const s = current.powerState;
  const to = (powerState: PowerState, restart = false, rescued = current.rescued): Plan => ({
    kind: 'change',
    to: { powerState, rescued },
    restart,
  });
  const invalid = (): Plan => ({ kind: 'invalid', reason: `cannot ${change} a guest that is ${s}` });
  const noop: Plan = { kind: 'noop' };
  switch (change) {
    case 'powerOff':
      // A crashed guest is already down; recording it as shut down is the convergence.
      return s === Shutdown ? noop : to(Shutdown);
    case 'powerOn':
      if (s === Running) return noop;
      return down(s) ? to(Running) : invalid();
    case 'rebootSoft':
      // Soft reboot asks the guest OS to restart: only a running guest can be asked.
      return s === Running ? to(Running, true) : invalid();
    case 'rebootHard':
      // Nova's ALLOW_HARD_REBOOT covers stopped, paused, suspended and error: any state.
      return to(Running, true);
    case 'pause':
      if (s === Paused) return noop;
      return s === Running ? to(Paused) : invalid();
    case 'unpause':
      // Running already is where unpause converges to: a re-run after success is a no-op.
      if (s === Running) return noop;
      return s === Paused ? to(Running) : invalid();
    case 'suspend':
      if (s === Suspended) return noop;
      return s === Running || s === Paused ? to(Suspended) : invalid();
    case 'resume':
      if (s === Running) return noop;
      return s === Suspended ? to(Running) : invalid();
    case 'rescue':
      if (current.rescued) return noop;
      return s === Running || down(s) ? to(Running, true, true) : invalid();
    case 'unrescue':
      if (!current.rescued) return noop;
      return to(Running, true, false);
  }
}

/** `plan`, with `invalid` turned into the typed error. */
export function planOrThrow(
  change: GuestChange,
  current: GuestStatus,
  instanceId: string,
): Exclude<Plan, { kind: 'invalid' }> {
  const p = plan(change, current);
  if (p.kind === 'invalid')
    throw new VirtError(VirtErrorCode.InvalidState, `${instanceId}: ${p.reason}`, { instanceId });
  return p;
}

// Ids become file names and command-line arguments: keep them to a safe alphabet.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Rejects ids and specs a driver could not store or rediscover safely. */
export function validateId(kind: 'instanceId' | 'host', value: string): void {
  if (!SAFE_ID.test(value)) throw new VirtError(VirtErrorCode.InvalidSpec, `invalid ${kind}: ${JSON.stringify(value)}`);
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Rejects a guest's interfaces a driver could not plug: bad ids or MACs, a port or a MAC twice. */
export function validateNics(nics: readonly GuestNic[] | undefined): void {
  const bad = (why: string) => new VirtError(VirtErrorCode.InvalidSpec, `invalid interfaces: ${why}`);
  const ports = new Set<string>();
  const macs = new Set<string>();
  for (const n of nics ?? []) {
    if (!SAFE_ID.test(n.portId) || !SAFE_ID.test(n.network)) throw bad(`port ${JSON.stringify(n.portId)}`);
    if (!MAC.test(n.mac)) throw bad(`MAC ${JSON.stringify(n.mac)} (want xx:xx:xx:xx:xx:xx, lowercase)`);
    if (ports.has(n.portId) || macs.has(n.mac)) throw bad(`port ${n.portId} or MAC ${n.mac} twice`);
    ports.add(n.portId);
    macs.add(n.mac);
  }
}
