/**
 * The first step of every move (resize, cold and live migration): the migration record, the
 * swap of the source side to the migration consumer, and a destination that both placement and
 * its tracker accept. It converges when run again: the record is created once (CAS create), the
 * swap is skipped once the migration consumer holds the source side, and a destination an
 * earlier run claimed is found in placement and its tracker asked again (the same opId).
 */
import { pickHosts } from '../../machines/conductor/index.js';
import { type InstanceContext, type Move, StepErrorCode } from '../../machines/instance/index.js';
import { flavorViewOf, type ExtraSpecs, type FlavorView, type InstanceRecord } from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { CallError, HOST_UNAVAILABLE } from '../runtime/index.js';
import {
  choosingInGroup,
  migrationIdOf,
  liveComputeServices,
  LOST_RESERVATION,
  NO_CANDIDATES,
  requestOf,
  reserveIn,
  type GroupRead,
  type LostReservation,
} from '../records/index.js';
import { larger, moveKit, sizes, trackerKind, type MoveStepDeps } from './move-kit.js';
import { done, failed, type StepContext, type StepResult, type StepTable } from './step-kit.js';

export const MOVE_CLAIM_STEPS = ['moveClaim'] as const;

/** A claim in the making: the instance, its move and migration, this step's key, the flavor wanted, the record. */
interface Claiming {
  readonly c: InstanceContext;
  readonly m: Move;
  readonly mid: string;
  readonly key: string;
  readonly flavor: FlavorView;
  /** The extra specs of that flavor (a resize's new one's, else the instance's). */
  readonly specs: ExtraSpecs | undefined;
  readonly rec: InstanceRecord;
}

/** The old and new flavors' extra specs for the machine's move (absent keys: none). */
const specsOf = (rec: InstanceRecord, next: ExtraSpecs | undefined) => ({
  ...(rec.flavorExtraSpecs ? { old: rec.flavorExtraSpecs } : {}),
  ...(next ? { new: next } : {}),
});

export function moveClaimSteps(d: MoveStepDeps): StepTable<(typeof MOVE_CLAIM_STEPS)[number]> {
  const { tracker, setStatus, allocationsOf, providerOf, holdOnly, holdOnRoot, holdExactly, claimedDest } = moveKit(d);

  const moveClaim = async ({ key, snapshot }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return failed({ code: StepErrorCode.NoMove, message: 'no move in flight' });
    const rec = cur.value;
    const mid = migrationIdOf(c.instanceId, m.opId);
    const wanted = m.requestedFlavor ? (await d.stores.flavors.get(m.requestedFlavor))?.value : undefined;
    const newFlavor = wanted ? flavorViewOf(wanted) : m.requestedFlavor ? undefined : m.oldFlavor;
    if (!newFlavor)
      return failed({ code: StepErrorCode.FlavorNotFound, message: `flavor ${m.requestedFlavor} not found` });
    // A driver whose guests have disks never shrinks one (Nova's libvirt driver: "Unable to
    // resize disk down", rolled back with the instance as it was): refused before anything is written.
    // A volume-backed guest has no root disk of its own to shrink (Nova skips the check when
    // booted_from_volume): its flavor's root disk may be anything.
    if (d.driver.importDisk && !c.bootVolume && newFlavor.rootGb < m.oldFlavor.rootGb)
      return failed({
        code: StepErrorCode.ResizeDown,
        message:
          `unable to resize disk down: ${newFlavor.name} has a ${newFlavor.rootGb} GB root disk, ` +
          `the instance ${m.oldFlavor.rootGb} GB`,
      });
    const now = d.clock.now();
    await d.migrations
      .create(mid, {
        migrationId: mid,
        instanceId: c.instanceId,
        project: rec.project,
        kind: m.kind === 'resize' ? 'resize' : m.kind === 'live' ? 'live-migration' : 'migration',
        status: m.kind === 'live' ? 'accepted' : 'pre-migrating',
        sourceHost: m.source,
        destHost: null,
        oldFlavor: m.oldFlavor,
        newFlavor,
        commandId: c.op?.id ?? m.opId,
        createdAt: now,
        updatedAt: now,
      })
      .catch((err: unknown) => {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err; // made by an earlier run
      });

    const specs = wanted ? wanted.extraSpecs : rec.flavorExtraSpecs;
    const claiming: Claiming = { c, m, mid, key, flavor: newFlavor, specs, rec };
    const source = await providerOf(m.source);
    if (m.kind === 'resize' && d.allowSameHostResize && source) {
      const here = await sameHostClaim(claiming, source);
      if (here) return done({ dest: m.source, flavor: newFlavor, specs: specsOf(rec, specs) });
    }

    // The swap: the source side — all the instance holds, its tree's children and a sharing
    // provider's too — moves to the migration consumer, in one atomic write.
    const inst = await allocationsOf(c.instanceId);
    const mig = await allocationsOf(mid);
    if (Object.keys(mig.allocations).length === 0 && source && inst.allocations[source]) {
      await d.placement.call('allocations.post', {
        consumers: {
          [mid]: {
            consumerGeneration: null,
            project: rec.project,
            user: rec.user,
            consumerType: 'MIGRATION',
            allocations: Object.fromEntries(
              Object.entries(inst.allocations).map(([p, v]) => [p, { resources: v.resources }]),
            ),
          },
          [c.instanceId]: {
            consumerGeneration: inst.consumerGeneration ?? null,
            project: rec.project,
            user: rec.user,
            consumerType: 'INSTANCE',
            allocations: {},
          },
        },
      });
    }

    // The destination: one an earlier run got room on in placement, asked again (that run may have
    // died before its tracker answered: chaos seed 28), else the best candidate that both
    // placement and its tracker accept.
    const earlier = await claimedDest(c.instanceId, source);
    const dest = (earlier === undefined ? undefined : await askDest(claiming, earlier)) ?? (await claimDest(claiming));
    if (typeof dest === 'object') return dest;
    if (!dest) return failed({ code: StepErrorCode.NoValidHost, message: `no valid host was found to ${m.kind} to` });
    const src = await tracker(m.source, {
      type: 'moveClaim',
      opId: `${key}:source`,
      migrationId: mid,
      instanceId: c.instanceId,
      flavor: sizes(m.oldFlavor, rec),
      side: 'source',
      kind: trackerKind(m),
    });
    if (!src.ok) return failed({ code: src.code, message: src.message });
    await setStatus(mid, m.kind === 'live' ? 'accepted' : 'pre-migrating', { destHost: dest });
    return done({ dest, flavor: newFlavor, specs: specsOf(rec, specs) });
  };

  /**
   * A resize on its own host (bug 1790204, improved): no swap. The instance consumer holds, per
   * resource, the larger of the old and the new flavor (the old flavor's room is the new one's,
   * as the tracker counts it in its `max` mode), so a new flavor that fits once the old one is
   * released is never refused. Confirm leaves the new flavor, revert the old one.
   */
  const sameHostClaim = async (x: Claiming, source: string): Promise<boolean> => {
    const { c, m, mid, key, flavor, rec } = x;
    const mig = await d.migrations.get(mid);
    if (mig?.value.destHost !== m.source) {
      if (mig?.value.destHost) return false; // an earlier run went elsewhere
      try {
        await holdOnRoot(c.instanceId, rec, source, larger(m.oldFlavor, flavor, rec));
      } catch (err) {
        if (err instanceof CallError && err.status === 409) return false;
        throw err;
      }
      await setStatus(mid, 'pre-migrating', { destHost: m.source });
    }
    const claim = (side: 'source' | 'destination', f: FlavorView) =>
      tracker(m.source, {
        type: 'moveClaim',
        opId: `${key}:${side === 'source' ? 'source' : 'dest'}`,
        migrationId: mid,
        instanceId: c.instanceId,
        flavor: sizes(f, rec),
        side,
        kind: 'resize',
      });
    const dest = await claim('destination', flavor);
    const src = dest.ok ? await claim('source', m.oldFlavor) : dest;
    if (src.ok) return true;
    // The tracker refused: give back what placement gave, and try other hosts.
    await tracker(m.source, { type: 'dropMoveClaim', opId: `${key}:undoDest`, migrationId: mid, side: 'destination' });
    await holdExactly(c.instanceId, source, m.oldFlavor, rec);
    await setStatus(mid, 'pre-migrating', { destHost: null });
    return false;
  };

  /**
   * The destination that accepted, none, or the failure of a claim whose outcome is unknown. A
   * member of a server group goes only where its policy allows, and each destination is reserved
   * in the group's record before it is claimed (docs/scheduling.md): another member reserving
   * meanwhile makes the choice be made again.
   */
  const claimDest = async (x: Claiming): Promise<string | StepResult | undefined> => {
    const r = await choosingInGroup(d.stores, x.rec.group, x.c.instanceId, (group) => claimDestOn(x, group));
    if (r !== LOST_RESERVATION) return r;
    return failed({
      code: StepErrorCode.NoValidHost,
      message: `server group ${x.rec.group} kept changing while a destination was reserved in it`,
    });
  };

  const claimDestOn = async (
    x: Claiming,
    group0: GroupRead | undefined,
  ): Promise<string | StepResult | undefined | LostReservation> => {
    const { c, m, flavor } = x;
    let group = group0;
    // Placement names the candidates' providers (a host is its provider's name): a list of
    // every provider would not fit in a message at 10,000 hosts.
    const [candidates, services] = await Promise.all([
      requestOf(d.stores, x.rec, m.requestedHost === null ? x.rec.availabilityZone : undefined, flavor, x.specs).then(
        (r) => (r ? d.placement.call('candidates.get', { ...r, limit: 1000, withNames: true }) : NO_CANDIDATES),
      ),
      liveComputeServices(d.stores),
    ]);
    const hostOf = new Map<string, string>(Object.entries(candidates.providerNames ?? {}));
    const choices = pickHosts({
      candidates,
      hostOf,
      services,
      tried: [m.source],
      forcedHost: m.requestedHost,
      weigher: 'spread',
      count: 3,
      ...(group ? { group: group.placement } : {}),
    });
    if (choices.length === 0)
      d.log?.(
        `move of ${c.instanceId}: no candidate host (${candidates.allocationRequests.length} placement candidates, ` +
          `${services.length} live services)`,
      );
    for (const choice of choices) {
      if (group) {
        group = await reserveIn(d.stores, group, choice.host, d.clock.now());
        if (!group) return LOST_RESERVATION;
      }
      try {
        // After the swap the instance consumer may live on, empty: write at its generation.
        await holdOnly(c.instanceId, x.rec, choice.allocations);
      } catch (err) {
        if (err instanceof CallError && err.status === 409) {
          d.log?.(`move of ${c.instanceId}: ${choice.host} was taken meanwhile (${err.message})`);
          continue;
        }
        throw err;
      }
      const asked = await askDest(x, choice.host);
      if (asked !== undefined) return asked;
    }
    return undefined;
  };

  /**
   * Asks `host`'s tracker for the destination side, once the instance consumer holds its room
   * there: the host if it accepted (again, for a run after one it answered: the same opId), the
   * failure of a claim that got no answer, or undefined once it refused and the room was given back.
   */
  const askDest = async (x: Claiming, host: string): Promise<string | StepResult | undefined> => {
    const { c, m, mid, key, flavor, rec } = x;
    const claim = await tracker(
      host,
      {
        type: 'moveClaim',
        opId: `${key}:dest`,
        migrationId: mid,
        instanceId: c.instanceId,
        flavor: sizes(flavor, rec),
        side: 'destination',
        kind: trackerKind(m),
      },
      { instanceId: c.instanceId, key },
    );
    if (claim.ok) return host;
    // No answer is no refusal (chaos cluster seed 3): that host may hold the claim. Its
    // allocation stays, so the rollback finds it there and has that host let go.
    if (claim.code === HOST_UNAVAILABLE) return failed({ code: claim.code, message: claim.message });
    d.log?.(`move of ${c.instanceId}: ${host}'s tracker refused: ${claim.code} ${claim.message}`);
    await d.placement.deleteAllocations(c.instanceId); // the destination's tracker refused: give its claim back
    return undefined;
  };

  return { moveClaim };
}
