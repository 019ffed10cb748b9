/**
 * A server group as a placement decision reads it, and the reservation that makes the decision
 * hold (docs/scheduling.md): the group's record at one revision, what is known of each other
 * member (its instance record), and the policy's view of where they are. A reservation is a
 * compare-and-set on that revision: if another member reserved meanwhile it fails, and the
 * caller reads and decides again. Builds (the conductor) and moves (the source host's claim
 * step, the conductor's evacuation) go through here, so no two decisions share a view.
 */
import { placementOf, reserve, type GroupPlacement, type MemberFacts } from '../../machines/scheduling/index.js';
import type { ServerGroupRecord } from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { Versioned } from '../runtime/index.js';
import type { Stores } from './stores.js';

export interface GroupRead {
  readonly groupId: string;
  readonly group: Versioned<ServerGroupRecord>;
  readonly members: ReadonlyMap<string, MemberFacts>;
  /** Where the other members are, for `self`'s policy. */
  readonly placement: GroupPlacement;
  readonly self: string;
}

/** How many times a decision is read and made again after losing its reservation to another member. */
export const GROUP_CAS_ATTEMPTS = 50;

/** The group `groupId` as `self` sees it now; undefined when the group is gone (deleted). */
export async function readGroup(
  stores: Pick<Stores, 'groups' | 'instances'>,
  groupId: string,
  self: string,
): Promise<GroupRead | undefined> {
  const group = await stores.groups.get(groupId);
  if (!group) return undefined;
  const ids = Object.keys(group.value.members).filter((id) => id !== self);
  const records = await Promise.all(ids.map((id) => stores.instances.get(id)));
  const members = new Map(
    ids.map((id, k) => [id, { record: records[k]?.value, reserved: group.value.members[id] ?? null }]),
  );
  return { groupId, group, members, placement: placementOf(group.value, members, self), self };
}

/**
 * Reserves `host` (null: none fits, a member still) for `read.self` on the revision read: the
 * read as it stands after the write, or undefined when another member wrote first.
 */
export async function reserveIn(
  stores: Pick<Stores, 'groups'>,
  read: GroupRead,
  host: string | null,
  now: number,
): Promise<GroupRead | undefined> {
  const next = reserve(read.group.value, read.members, read.self, host, now);
  try {
    const revision = await stores.groups.update(read.groupId, next, read.group.revision);
    return { ...read, group: { value: next, revision } };
  } catch (err) {
    if (isActorError(err, ActorErrorCode.CasConflict)) return undefined;
    throw err;
  }
}

/** A choice lost its reservation to another member of its group: it is made again on a new read. */
export const LOST_RESERVATION = Symbol('lost reservation');
export type LostReservation = typeof LOST_RESERVATION;

/**
 * Runs `choose` on the member's group as read now (undefined: it is in none, or the group is
 * gone), again on a new read each time it returns LOST_RESERVATION, at most GROUP_CAS_ATTEMPTS
 * times; then LOST_RESERVATION is the answer and the caller gives up for now.
 */
export async function choosingInGroup<T>(
  stores: Pick<Stores, 'groups' | 'instances'>,
  groupId: string | undefined,
  self: string,
  choose: (group: GroupRead | undefined) => Promise<T | LostReservation>,
): Promise<T | LostReservation> {
  for (let attempt = 1; attempt <= GROUP_CAS_ATTEMPTS; attempt++) {
    const group = groupId === undefined ? undefined : await readGroup(stores, groupId, self);
    const r = await choose(group);
    if (r !== LOST_RESERVATION) return r;
  }
  return LOST_RESERVATION;
}
