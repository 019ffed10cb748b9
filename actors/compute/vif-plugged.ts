/**
 * Nova's wait for `network-vif-plugged` (docs/networks.md): a port bound to a host is `DOWN` until
 * the host's network says its interface is wired — Neutron's L2 agent sets it `ACTIVE` and Neutron
 * tells Nova. Here the host itself reads its data plane (the driver's `wiredPorts`: under libvirt
 * the port's tap on its network's bridge) and marks each wired port `ACTIVE` (`activatePort`), the
 * record change that is the event. A build's spawn (and an unshelve's) and an interface attach
 * wait for every port of theirs for up to `vif_plugging_timeout`; past it, with
 * `vif_plugging_is_fatal`, the operation fails `VirtualInterfaceCreateException` (a build is not
 * rescheduled: Nova's BuildAbortException), else it goes on with the port `DOWN`. A step run again
 * waits again, from the start: the port records say what was already seen.
 */
import type { InstancePort } from '../../protocol/index.js';
import { PowerState, type HypervisorDriver } from '../../virt/index.js';
import { activatePort, type NetStores } from '../records/index.js';
import type { Clock } from '../runtime/index.js';

/** Nova's `vif_plugging_timeout` (in ms here) and `vif_plugging_is_fatal`. */
export interface VifPlugging {
  /** 0: no wait and no failure (each port is looked at once), as in Nova. Nova's default: 300 s. */
  readonly timeoutMs: number;
  readonly fatal: boolean;
}

export const DEFAULT_VIF_PLUGGING: VifPlugging = { timeoutMs: 300_000, fatal: true };

export interface VifDeps {
  readonly host: string;
  readonly driver: HypervisorDriver;
  readonly net: NetStores;
  readonly clock: Clock;
  readonly vifPlugging?: VifPlugging;
  readonly log?: (line: string) => void;
}

/** How often the data plane is looked at while a wait goes on. */
const VIF_POLL_MS = 100;

/** The ports of the guest that its host has wired, by the driver's view (or the interfaces `get` lists). */
async function wiredOf(driver: HypervisorDriver, instanceId: string, signal?: AbortSignal): Promise<Set<string>> {
  const o = signal ? { signal } : {};
  if (driver.wiredPorts) return new Set(await driver.wiredPorts(instanceId, o));
  return new Set(((await driver.get(instanceId, o))?.nics ?? []).map((n) => n.portId));
}

/**
 * Looks once: marks each of `ports` that the host has wired `ACTIVE` (a port bound elsewhere
 * meanwhile is left alone) and answers the ones still `DOWN`.
 */
export async function activateWired(
  d: VifDeps,
  instanceId: string,
  ports: readonly Pick<InstancePort, 'portId'>[],
  signal?: AbortSignal,
): Promise<string[]> {
  if (ports.length === 0) return [];
  const wired = await wiredOf(d.driver, instanceId, signal);
  const device = { deviceId: instanceId, host: d.host };
  const down: string[] = [];
  const now = () => d.clock.now();
  for (const p of ports)
    if (!wired.has(p.portId) || !(await activatePort(d.net, now, p.portId, device))) down.push(p.portId);
  return down;
}

export type VifWait = { readonly ok: true } | { readonly ok: false; readonly message: string };

/**
 * Waits until every one of `ports` is wired and `ACTIVE`, for up to the timeout. Not fatal: ok
 * whatever is left `DOWN` (logged). A guest neither running nor paused holds no interface to
 * wire: nothing is waited for.
 */
export async function awaitVifsPlugged(
  // The step's own sleep: cut short, rejecting, when its actor stops.
  d: VifDeps & { readonly sleep: (ms: number) => Promise<void> },
  instanceId: string,
  ports: readonly Pick<InstancePort, 'portId'>[],
  signal?: AbortSignal,
): Promise<VifWait> {
  if (ports.length === 0) return { ok: true };
  const cfg = d.vifPlugging ?? DEFAULT_VIF_PLUGGING;
  const deadline = d.clock.now() + cfg.timeoutMs;
  const guest = await d.driver.get(instanceId, signal ? { signal } : {});
  const live = guest?.powerState === PowerState.Running || guest?.powerState === PowerState.Paused;
  let down = await activateWired(d, instanceId, ports, signal);
  while (live && down.length > 0 && d.clock.now() < deadline && !signal?.aborted) {
    await d.sleep(VIF_POLL_MS);
    down = await activateWired(
      d,
      instanceId,
      ports.filter((p) => down.includes(p.portId)),
      signal,
    );
  }
  if (down.length === 0 || !live) return { ok: true };
  const message =
    `no network-vif-plugged for port(s) ${down.join(', ')} of ${instanceId} on ${d.host} ` +
    `within ${cfg.timeoutMs / 1000} s (vif_plugging_timeout)`;
  if (cfg.fatal && cfg.timeoutMs > 0) return { ok: false, message };
  if (cfg.timeoutMs > 0) d.log?.(`${message}; going on (vif_plugging_is_fatal is false)`);
  return { ok: true };
}
