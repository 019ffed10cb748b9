/**
 * What the gateway does with a decision besides persisting it: what it claims from the
 * project's quota, and where a routed command is sent.
 */
import type { FlavorRecord, InstanceRecord } from '../../protocol/index.js';
import type { GatewayDecision, IncomingCommand } from './decide.js';
import type { QuotaClaim } from './quota.js';

/**
 * What a command claims from its project's quota, if anything: a new instance (a boot), a
 * resize to a bigger flavor, an unshelve of an instance that was offloaded (it takes cores
 * and RAM again).
 */
export function quotaClaimOf(
  decision: GatewayDecision,
  cmd: IncomingCommand,
  record: InstanceRecord | undefined,
  flavor: FlavorRecord | undefined,
): QuotaClaim | undefined {
  const base = { instanceId: cmd.instanceId, commandId: cmd.commandId };
  if (decision.kind === 'create' || decision.kind === 'resumeCreate')
    return { kind: 'instance', ...base, flavor: decision.record.flavor };
  if (decision.kind === 'route' && cmd.action === 'resize' && record && flavor) {
    const grows = flavor.vcpus > record.flavor.vcpus || flavor.memoryMb > record.flavor.memoryMb;
    return grows ? { kind: 'growth', ...base, cores: flavor.vcpus, ramMb: flavor.memoryMb } : undefined;
  }
  if (decision.kind === 'toConductor' && cmd.action === 'unshelve' && record?.vmState === 'shelved_offloaded')
    return { kind: 'growth', ...base, cores: record.flavor.vcpus, ramMb: record.flavor.memoryMb };
  return undefined;
}

/**
 * Where a routed command goes: to its host, or to the conductor. A delete for a host that is
 * down is carried out at once by the conductor (Nova's local delete, bug 1679750): the host,
 * when back, finds the record deleted. `localIfDown` says the gateway must ask whether the
 * host is down (it reads that only then).
 */
export type CommandRoute =
  { readonly to: 'conductor' } | { readonly to: 'host'; readonly host: string; readonly localIfDown: boolean };

export function commandRoute(
  decision: Extract<GatewayDecision, { kind: 'route' | 'toConductor' }>,
  action: IncomingCommand['action'],
): CommandRoute {
  if (decision.kind === 'toConductor') return { to: 'conductor' };
  return { to: 'host', host: decision.host, localIfDown: action === 'delete' || action === 'force_delete' };
}

/** Where the command goes once the host's state is known (`hostDown`, read only when `localIfDown`). */
export const routeTarget = (
  route: CommandRoute,
  hostDown: boolean,
): { readonly to: 'conductor' } | { readonly to: 'host'; readonly host: string } =>
  route.to === 'host' && !(route.localIfDown && hostDown) ? { to: 'host', host: route.host } : { to: 'conductor' };
