/**
 * The build's `network` step and the release of an instance's ports (docs/networks.md). The
 * ports a boot asked for are in its record (`networks`, resolved by the gateway). A network's
 * port gets an id derived from the instance and its place in that list, so the step run again
 * (its actor killed, the task redelivered, a reschedule's next host) finds the port it made
 * rather than making a second; a port the user passed in is bound, and bound again, to this
 * instance on this host, `DOWN` until the spawn sees it wired (vif-plugged.ts).
 *
 * Release (delete, build abort, reschedule; records/ipam.ts releaseInstancePorts) is by the same
 * derivation, not by what the record lists, so a port made by a step killed before its result was
 * recorded is released too: ports the build made are deleted, ports the user passed in are unbound
 * and kept (Nova's rule).
 */
import type { InstancePort, NetworkRequest, PortRecord } from '../../protocol/index.js';
import type { InstanceContext, InstanceSnapshot } from '../../machines/instance/index.js';
import {
  bindPort,
  buildPortId,
  createPort,
  releaseInstancePorts,
  type NetOutcome,
  type NetStores,
} from '../records/index.js';
import type { Clock } from '../runtime/index.js';
import { done, failed, peerCode, type StepContext, type StepFn, type StepResult } from './step-kit.js';

export interface NetworkStepDeps {
  readonly host: string;
  readonly net: NetStores;
  readonly clock: Clock;
}

/** The network step has nothing to do for an instance that asked for no port: taken as done (no record write). */
export const networkIsNoop = (snapshot: InstanceSnapshot): boolean =>
  !(snapshot.context.networks ?? []).some((n) => !n.detached);

const portOf = (p: PortRecord, created: boolean): InstancePort => ({
  portId: p.portId,
  networkId: p.networkId,
  mac: p.mac!,
  ips: p.fixedIps.map((f) => f.ipAddress),
  created,
});

/**
 * The port of entry `index` of an instance's `networks`, made (its id derived from the place) or
 * bound, bound to the instance on this host. Converges when run again: a port made before — on
 * another host (a reschedule), or half-way — is found and bound here.
 */
export async function portHere(
  d: NetworkStepDeps,
  c: { readonly instanceId: string; readonly project: string },
  index: number,
  want: NetworkRequest,
): Promise<NetOutcome<InstancePort>> {
  const now = () => d.clock.now();
  const device = { deviceId: c.instanceId, host: d.host };
  let r: NetOutcome<PortRecord>;
  if (want.port !== undefined) r = await bindPort(d.net, now, want.port, c.project, device);
  else {
    const portId = buildPortId(c.instanceId, index);
    r = await createPort(
      { stores: d.net, now },
      {
        portId,
        project: c.project,
        networkId: want.network!,
        ...(want.fixedIp !== undefined ? { fixedIps: [{ ipAddress: want.fixedIp }] } : {}),
        device,
      },
    );
    if (r.ok && (r.value.bindingHost !== d.host || r.value.deviceId !== c.instanceId))
      r = await bindPort(d.net, now, portId, c.project, device);
  }
  return r.ok ? { ok: true, value: portOf(r.value, want.port === undefined) } : r;
}

export function networkStep(d: NetworkStepDeps): (ctx: StepContext) => Promise<StepResult> {
  return async ({ snapshot }) => {
    const c = snapshot.context;
    const ports: InstancePort[] = [];
    for (const [index, want] of (c.networks ?? []).entries()) {
      if (want.detached) continue; // its interface was detached (an unshelve carries the rest)
      const r = await portHere(d, c, index, want);
      // Neutron's code is the build's fault (IpAddressGenerationFailure, PortInUse…); not rescheduled.
      if (!r.ok) return failed({ code: peerCode(r.code), message: r.message });
      ports.push(r.value);
    }
    return done({ ports });
  };
}

/**
 * The instance's ports bound to this host, where its guest runs (or is about to): a move's end
 * (move-kit.ts), an unshelve of an offloaded instance on whatever host took it (`portsFirst`).
 * Idempotent; a port deleted meanwhile is skipped, as is one another instance holds (logged).
 */
export async function bindPortsOn(
  d: NetworkStepDeps & { readonly log?: (line: string) => void },
  c: Pick<InstanceContext, 'instanceId' | 'project' | 'ports'>,
): Promise<void> {
  for (const p of c.ports ?? []) {
    const r = await bindPort(d.net, () => d.clock.now(), p.portId, c.project, { deviceId: c.instanceId, host: d.host });
    if (!r.ok && r.code !== 'PortNotFound')
      d.log?.(`ports of ${c.instanceId}: ${p.portId} not bound here: ${r.message}`);
  }
}

/**
 * A spawn that an unshelve runs (the offloaded instance lands on any host, with no network step):
 * its ports bound here first.
 */
export const portsFirst =
  (spawn: StepFn, d: NetworkStepDeps): StepFn =>
  async (x) => {
    const c = x.snapshot.context;
    if (c.op?.action === 'unshelve' && (c.ports?.length ?? 0) > 0) await bindPortsOn(d, c);
    return spawn(x);
  };

/** Deletes the ports the build made for the instance and unbinds the ones its user passed in. */
export const releasePorts = (
  d: NetworkStepDeps,
  instanceId: string,
  networks: readonly NetworkRequest[] | undefined,
): Promise<void> => releaseInstancePorts(d.net, () => d.clock.now(), instanceId, networks);
