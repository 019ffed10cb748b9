/**
 * The steps of interface attach and detach on the instance's host (docs/networks.md; Nova's
 * attach_interface / detach_interface). Attach: the port of the entry the command appended to the
 * record's `networks` (made with an id derived from its place, or the user's bound), then plugged
 * into the guest. Detach: unplugged, then the port let go as its boot's would be (made: deleted; the
 * user's: unbound, kept). Each converges when run again (its actor killed after its effect, before
 * its result was recorded): the port made before is found, a plug or unplug already done is
 * success. A failure leaves things as the step found them: an attach the guest refused gives back
 * its port; a detach the guest refused keeps it bound.
 */
import { StepErrorCode, type InstanceContext } from '../../machines/instance/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { buildPortId, releaseInstancePort } from '../records/index.js';
import { nicsOf } from './guest-nics.js';
import { awaitVifsPlugged, type VifPlugging, type VifWait } from './vif-plugged.js';
import { portHere, type NetworkStepDeps } from './network-steps.js';
import {
  done,
  driverStep,
  failed,
  peerCode,
  unsupported,
  type DriverRetry,
  type StepContext,
  type StepTable,
} from './step-kit.js';

export const INTERFACE_STEPS = ['attachInterface', 'detachInterface'] as const;

export interface InterfaceStepDeps extends NetworkStepDeps, DriverRetry {
  readonly driver: HypervisorDriver;
  readonly vifPlugging?: VifPlugging;
  readonly log?: (line: string) => void;
}

/** The place in `networks` of the entry that gave the instance `portId` (the latest one not detached). */
export function entryIndexOf(c: Pick<InstanceContext, 'instanceId' | 'networks'>, portId: string): number | undefined {
  const networks = c.networks ?? [];
  for (let i = networks.length - 1; i >= 0; i--) {
    const n = networks[i]!;
    if (n.detached) continue;
    if (n.port === portId || (n.port === undefined && buildPortId(c.instanceId, i) === portId)) return i;
  }
  return undefined;
}

export function interfaceSteps(d: InterfaceStepDeps): StepTable<(typeof INTERFACE_STEPS)[number]> {
  const now = () => d.clock.now();

  const attachInterface = async ({ snapshot, signal }: Pick<StepContext, 'snapshot' | 'signal'>) => {
    const c = snapshot.context;
    const index = c.op?.networkIndex;
    const want = index === undefined ? undefined : c.networks?.[index];
    if (index === undefined || !want)
      return failed({ code: StepErrorCode.NoOperation, message: 'no interface to attach' });
    const plug = d.driver.attachInterface?.bind(d.driver);
    if (!plug) return unsupported(StepErrorCode.InterfacesUnsupported, d.host, 'attach interfaces');
    const port = await portHere(d, c, index, want);
    // Neutron's code (PortInUse, IpAddressGenerationFailure…): nothing was made or bound.
    if (!port.ok) return failed({ code: peerCode(port.code), message: port.message, rollback: true });
    const nic = nicsOf([port.value]).nics![0]!;
    const plugged = await driverStep(
      d,
      () => plug(c.instanceId, nic, { signal }),
      (code, message) => ({ code, message, rollback: true }),
    );
    // Plugged: wired too (network-vif-plugged), else, past the timeout (fatal), taken back.
    const vifs: VifWait = plugged.ok ? await awaitVifsPlugged(d, c.instanceId, [port.value], signal) : { ok: true };
    if (!plugged.ok || !vifs.ok) {
      // Nothing is plugged: the port goes back as it came (made: deleted; the user's: unbound).
      await d.driver.detachInterface?.(c.instanceId, nic.portId, { signal });
      await releaseInstancePort(d.net, now, c.instanceId, index, want);
      if (!vifs.ok)
        return failed({ code: StepErrorCode.VirtualInterfaceCreateException, message: vifs.message, rollback: true });
      return plugged;
    }
    return done({ port: port.value });
  };

  const detachInterface = async ({ snapshot, signal }: Pick<StepContext, 'snapshot' | 'signal'>) => {
    const c = snapshot.context;
    const portId = c.op?.portId;
    if (!portId) return failed({ code: StepErrorCode.NoOperation, message: 'no interface to detach' });
    const unplugged = await driverStep(
      d,
      () => d.driver.detachInterface?.(c.instanceId, portId, { signal }) ?? Promise.resolve(),
      (code, message) => ({ code, message, rollback: true }),
    );
    if (!unplugged.ok) return unplugged;
    const index = entryIndexOf(c, portId);
    if (index !== undefined) await releaseInstancePort(d.net, now, c.instanceId, index, c.networks![index]!);
    return done(index !== undefined ? { networkIndex: index } : undefined);
  };

  return { attachInterface, detachInterface };
}
