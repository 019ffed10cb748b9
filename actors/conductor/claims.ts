/**
 * The conductor's claims in placement: the I/O a decision asks for when it needs a host
 * (machines/conductor `needHost`, `needDestination`). Host choice itself is pickHosts, pure.
 *
 * A build's claim: reuse the one an earlier, interrupted run made (the consumer is the
 * instance), or ask placement for candidates, pick hosts (live, enabled, untried; weighed)
 * and claim on the first that accepts (a lost race with another claim moves on to the next).
 *
 * An evacuation's claim adds the destination to the instance consumer (Nova's doubled
 * allocation) and claims its side of the move in the destination's tracker. A tracker that
 * does not answer may have applied the claim: the claim throws keeping the room (the task comes
 * back and asks again, the same opId); only a refusal gives the room back.
 */
import { claimedSizes, volumeBackedClaim } from '../../machines/claims/index.js';
import { type HostNeeded, type Weigher, pickHosts } from '../../machines/conductor/index.js';
import { ramOnly, type GroupPlacement, type Multipliers } from '../../machines/scheduling/index.js';
import type { InstanceRecord, ServiceRecord } from '../../protocol/index.js';
import { type Clock, type KillPoint, type RemoteHosts, CallError, HOST_UNAVAILABLE } from '../runtime/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';
import { NO_CANDIDATES, requestOf } from '../records/index.js';
import { hostsOf, treeOf, withoutTree, type PlacementClient } from '../placement/index.js';
import {
  choosingInGroup,
  GROUP_CAS_ATTEMPTS,
  liveComputeServices,
  LOST_RESERVATION,
  readGroup,
  reserveIn,
  type GroupRead,
  type LostReservation,
  type Stores,
} from '../records/index.js';
import type { LiveServicesView } from './live-hosts.js';

export interface ClaimDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly live: LiveServicesView;
  readonly weigher: Weigher;
  readonly multipliers: Multipliers;
  readonly remote: RemoteHosts;
  readonly clock: Clock;
  readonly killPoint?: KillPoint;
  readonly log?: (line: string, err?: unknown) => void;
}

/** A destination: its host and its (root) resource provider in placement. */
interface Dest {
  readonly host: string;
  readonly provider: string;
}

/** How many hosts a pick returns: the choice and its alternates. */
const PICKS = 3;
/**
 * How many candidates a build asks placement for, weighed by placement as the conductor weighs
 * (free RAM): the best few rather than every host (issue 17: encoding and decoding all of them
 * was most of both processes' work per boot). Fewer than PICKS usable among them (dead,
 * disabled or tried hosts at the top) asks again for all.
 */
const WEIGHED_CANDIDATES = 16;

export function claims(d: ClaimDeps) {
  /** The host of a claim an earlier run of this build made (the consumer is the instance). */
  const existingClaim = async (id: string): Promise<string | undefined> => {
    const a = await d.placement.call('allocations.get', { consumer: id });
    return (await hostsOf(d.placement, Object.keys(a.allocations)))[0]?.host;
  };

  /**
   * Candidates for `rec` in `zone` (its own unless an admin named the host: Nova keeps the zone
   * otherwise), with the names of their providers (a host is its provider's name): placement
   * names them in the reply (`withNames`), so no build lists every provider — a list of 10,000
   * is more than a message may hold (issue 17).
   */
  const candidates = async (
    rec: InstanceRecord,
    weigh?: Weigher,
    zone = rec.forcedHost === null ? rec.availabilityZone : undefined,
  ) => {
    const request = await requestOf(d.stores, rec, zone);
    const found = await (request
      ? d.placement.call(
          'candidates.get',
          weigh
            ? { ...request, limit: WEIGHED_CANDIDATES, weigh, withNames: true }
            : { ...request, limit: 1000, withNames: true },
        )
      : NO_CANDIDATES);
    return { candidates: found, hostOf: new Map<string, string>(Object.entries(found.providerNames ?? {})) };
  };

  /** The conductor's pick for a build of `rec` among candidates `c`: its weighers, the build's forced host. */
  const pickFor = (
    rec: InstanceRecord,
    c: Awaited<ReturnType<typeof candidates>>,
    services: readonly ServiceRecord[],
    tried: readonly string[],
    group?: GroupPlacement,
  ) =>
    pickHosts({
      ...c,
      services,
      tried,
      forcedHost: rec.forcedHost,
      weigher: d.weigher,
      multipliers: d.multipliers,
      count: PICKS,
      ...(group ? { group } : {}),
    });

  const switchedOff = async (host: string): Promise<boolean> => {
    const admin = await d.stores.hosts.get(host);
    return admin !== undefined && (!admin.value.enabled || admin.value.forcedDown);
  };

  /** Claims on the first of `choices` that accepts; undefined if none does. */
  const claimOn = async (
    rec: InstanceRecord,
    choices: ReturnType<typeof pickHosts>,
    checkSwitches: boolean,
  ): Promise<string | undefined> => {
    for (const c of choices) {
      if (checkSwitches && (await switchedOff(c.host))) continue;
      try {
        await d.placement.call('allocations.put', {
          consumer: rec.instanceId,
          consumerGeneration: null,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: c.allocations,
        });
        return c.host;
      } catch (err) {
        // Someone else took the room first (capacity), or a claim of ours exists after all: next host.
        if (!(err instanceof CallError && err.status === 409)) throw err;
        const mine = await existingClaim(rec.instanceId);
        if (mine) return mine;
      }
    }
    return undefined;
  };

  const claimOnBestHost = async (rec: InstanceRecord, tried: readonly string[]): Promise<string | undefined> => {
    // A forced host may be anywhere in the order: all candidates for it.
    // Placement weighs by free RAM only: with CPU or disk weighers on, every candidate is weighed here.
    let c = await candidates(rec, rec.forcedHost === null && ramOnly(d.multipliers) ? d.weigher : undefined);
    const pick = (services: ServiceRecord[]) => pickFor(rec, c, services, tried);
    const truncated = c.candidates.allocationRequests.length >= WEIGHED_CANDIDATES && rec.forcedHost === null;
    if (truncated && pick(d.live.ready ? d.live.services() : await liveComputeServices(d.stores)).length < PICKS)
      c = await candidates(rec);
    // First the watched view (live-hosts.ts), checking each chosen host's switches as it
    // goes, since an operator's disable or force-down the watch has not delivered yet
    // still counts. When that claims nothing (the view not caught up, a host started a
    // moment ago, a switch it had wrong), the buckets themselves, read now, decide.
    if (d.live.ready) {
      const host = await claimOn(rec, pick(d.live.services()), true);
      if (host) return host;
    }
    return claimOn(rec, pick(await liveComputeServices(d.stores)), false);
  };

  /**
   * A member of a server group (docs/scheduling.md): the host is chosen on the group's record
   * as read, and reserved there with a compare-and-set on that read before anything is claimed,
   * so that no two members are ever placed on one view of the group; a conflict (another member
   * reserved meanwhile) chooses again on the new record. An earlier run's claim stands: it was
   * reserved before it was made. A deleted group's members are placed as any instance.
   */
  const claimInGroup = async (rec: InstanceRecord, groupId: string, tried0: readonly string[]) => {
    const earlier = await existingClaim(rec.instanceId);
    let tried = tried0;
    for (let attempt = 1; attempt <= GROUP_CAS_ATTEMPTS; attempt++) {
      const read = await readGroup(d.stores, groupId, rec.instanceId);
      if (!read) {
        // Deleted: as in Nova, its members are in no group any more and go anywhere.
        d.log?.(`build of ${rec.instanceId}: its server group ${groupId} is gone; placed without it`);
        return earlier ?? (await claimOnBestHost(rec, tried)) ?? (await existingClaim(rec.instanceId));
      }
      // A member no host fits is a member still (Nova adds it at the API), reserved nowhere.
      const choice = earlier === undefined ? await chooseOne(rec, tried, read.placement) : undefined;
      const host = earlier ?? choice?.host ?? null;
      if (!(await reserveIn(d.stores, read, host, d.clock.now()))) continue; // another member first: again
      if (host === null || !choice) return host ?? undefined;
      if (d.killPoint) await d.killPoint('group.reserved', { instanceId: rec.instanceId, groupId, host });
      const claimed = await choice.claim();
      if (claimed !== undefined) return claimed;
      tried = [...tried, host]; // taken meanwhile, or switched off: another host, reserved again
    }
    throw new ActorError(
      ActorErrorCode.CasConflict,
      `build of ${rec.instanceId}: server group ${groupId} kept changing (${GROUP_CAS_ATTEMPTS} reservations); ` +
        'the task comes back',
    );
  };

  /** The best host under the group's policy, and how to claim there (undefined: none fits). */
  const chooseOne = async (rec: InstanceRecord, tried: readonly string[], group: GroupPlacement) => {
    const c = await candidates(rec);
    const pickFrom = (services: ServiceRecord[]) => pickFor(rec, c, services, tried, group);
    let choices = d.live.ready ? pickFrom(d.live.services()) : [];
    let checkSwitches = true;
    if (choices.length === 0) {
      choices = pickFrom(await liveComputeServices(d.stores));
      checkSwitches = false;
    }
    const best = choices[0];
    if (!best) return undefined;
    return { host: best.host, claim: () => claimOn(rec, [best], checkSwitches) };
  };

  /**
   * The host a build or an unshelve goes to: an earlier run's claim, else (when fresh) a new one.
   * A fresh one claims first and looks for an earlier run's claim only when placement says the
   * consumer exists (the claim's 409, in claimOn) or nothing was claimed (that claim may hold
   * the last room): one placement read less per boot.
   */
  const hostFor = async (n: HostNeeded): Promise<string | undefined> =>
    n.record.group !== undefined && n.fresh
      ? claimInGroup(n.record, n.record.group, n.tried)
      : n.fresh
        ? ((await claimOnBestHost(n.record, n.tried)) ?? (await existingClaim(n.record.instanceId)))
        : existingClaim(n.record.instanceId);

  /** The destination an earlier run got room on for the instance consumer (its tracker may not have answered). */
  const claimedElsewhere = async (id: string, source: string): Promise<Dest | undefined> => {
    const a = await d.placement.call('allocations.get', { consumer: id });
    const other = (await hostsOf(d.placement, Object.keys(a.allocations))).find((h) => h.host !== source);
    return other && { host: other.host, provider: other.root };
  };

  /**
   * The instance consumer's allocations without the tree of `provider` (the room a refused
   * destination gives back: its root and its children; a sharing provider the source uses stays).
   */
  const giveBack = async (rec: InstanceRecord, provider: string): Promise<void> => {
    const [now, tree] = await Promise.all([
      d.placement.call('allocations.get', { consumer: rec.instanceId }),
      treeOf(d.placement, provider),
    ]);
    await d.placement.call('allocations.put', {
      consumer: rec.instanceId,
      consumerGeneration: now.consumerGeneration ?? null,
      project: rec.project,
      user: rec.user,
      consumerType: 'INSTANCE',
      allocations: withoutTree(now.allocations, tree.size > 0 ? tree : new Set([provider])),
    });
  };

  /**
   * Asks `dest`'s tracker for its side of the move, once the instance consumer holds room there:
   * true if it accepted (again, for a run after one it answered: the same opId); false once it
   * refused and that room was given back. No answer is no refusal (that host may have applied
   * the claim): it throws, keeping the room, and the task redelivered asks again.
   */
  const askDestination = async (rec: InstanceRecord, mid: string, dest: Dest, commandId: string): Promise<boolean> => {
    try {
      await d.remote.tracker(dest.host, 'moveClaim', {
        opId: `${rec.instanceId}:${commandId}:evacuateDest`,
        migrationId: mid,
        instanceId: rec.instanceId,
        flavor: claimedSizes(rec.flavor, volumeBackedClaim(rec)),
        side: 'destination',
        kind: 'evacuate',
      });
      return true;
    } catch (err) {
      if (!(err instanceof CallError) || err.code === HOST_UNAVAILABLE) throw err;
      d.log?.(`evacuation of ${rec.instanceId}: ${dest.host}'s tracker refused`, err);
      await giveBack(rec, dest.provider);
      return false;
    }
  };

  /**
   * Adds the best destination to the instance consumer and claims its side of the move in its
   * tracker; a server group's member only where its policy allows, each destination reserved in
   * the group before it is claimed (docs/scheduling.md), chosen again if another member reserved first.
   */
  const claimDestination = async (
    rec: InstanceRecord,
    mid: string,
    tried: readonly string[],
    requested: string | null,
    commandId: string,
  ): Promise<string | undefined> => {
    const r = await choosingInGroup(d.stores, rec.group, rec.instanceId, (group) =>
      claimDestinationOn(rec, mid, tried, requested, commandId, group),
    );
    return r === LOST_RESERVATION ? undefined : r;
  };

  const claimDestinationOn = async (
    rec: InstanceRecord,
    mid: string,
    tried: readonly string[],
    requested: string | null,
    commandId: string,
    group0: GroupRead | undefined,
  ): Promise<string | undefined | LostReservation> => {
    let group = group0;
    const zone = requested === null ? rec.availabilityZone : undefined;
    const [c, services] = await Promise.all([candidates(rec, undefined, zone), liveComputeServices(d.stores)]);
    const choices = pickHosts({
      ...c,
      services,
      tried,
      forcedHost: requested,
      weigher: 'spread',
      count: PICKS,
      ...(group ? { group: group.placement } : {}),
    });
    for (const choice of choices) {
      if (group) {
        group = await reserveIn(d.stores, group, choice.host, d.clock.now());
        if (!group) return LOST_RESERVATION;
      }
      const cur = await d.placement.call('allocations.get', { consumer: rec.instanceId });
      const existing = Object.fromEntries(
        Object.entries(cur.allocations).map(([p, v]) => [p, { resources: v.resources }]),
      );
      try {
        await d.placement.call('allocations.put', {
          consumer: rec.instanceId,
          consumerGeneration: cur.consumerGeneration ?? null,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: { ...existing, ...choice.allocations },
        });
      } catch (err) {
        if (err instanceof CallError && err.status === 409) continue;
        throw err;
      }
      if (await askDestination(rec, mid, choice, commandId)) return choice.host;
    }
    return undefined;
  };

  /**
   * The evacuation's destination: one an earlier run got room on in placement, its tracker asked
   * again (that run may have died, or its task come back, before the tracker answered), else the
   * best that placement and its tracker accept (not a host whose tracker just refused).
   */
  const destinationFor = async (
    rec: InstanceRecord,
    mid: string,
    source: string,
    requested: string | null,
    commandId: string,
  ): Promise<string | undefined> => {
    const earlier = await claimedElsewhere(rec.instanceId, source);
    if (earlier && (await askDestination(rec, mid, earlier, commandId))) return earlier.host;
    const tried = earlier ? [source, earlier.host] : [source];
    return claimDestination(rec, mid, tried, requested, commandId);
  };

  return { hostFor, destinationFor };
}
