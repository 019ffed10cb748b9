/**
 * Named kill points: the awaits of the commit path where a test can stop an actor's
 * continuation, kill something, and let it go on (docs/testing.md, "kill points"). A step
 * hook (`beforeStep`) only reaches the gaps between steps; these reach the gaps inside one
 * commit: after the record write, after each outbox publish, after a step's effect, after
 * an inbox ack, inside a tracker claim and a placement call.
 *
 * A process has at most one `KillPoint` hook, injected (ComputeOptions.killPoint); when
 * none is given every call site is a single `undefined` check: nothing is built or awaited.
 * A hook may hold the continuation (return a promise that resolves later) but must not
 * throw: what a kill does is decided by the kill (nv.ctl, a worker kill), never by the hook.
 */

/** Every kill point, with what its hook is told (enough to pick one instance and one write). */
export interface KillPointContexts {
  /** An instance actor's record write was acknowledged; nothing of its outbox is out yet. */
  readonly 'instance.recordWritten': {
    readonly instanceId: string;
    readonly vmState: string;
    readonly taskState: string | null;
    readonly events: readonly string[];
    readonly final: boolean;
  };
  /** One event of that outbox is in the stream; `index` of `events`. */
  readonly 'instance.eventPublished': {
    readonly instanceId: string;
    readonly vmState: string;
    readonly event: string;
    readonly index: number;
  };
  /** A step ran (its effect is done); its result is not recorded yet. */
  readonly 'instance.stepFinished': {
    readonly instanceId: string;
    readonly step: string;
    readonly key: string;
    readonly ok: boolean;
  };
  /** The host's inbox acknowledged a task (its effects durable); `type` host.build/host.command/... */
  readonly 'inbox.acked': { readonly instanceId: string; readonly type: string; readonly action?: string };
  /** A tracker command was applied in memory; the caller has not had its answer. */
  readonly 'tracker.applied': {
    readonly host: string;
    readonly command: string;
    readonly instanceId?: string;
    readonly opId: string;
  };
  /**
   * A move's cleanup or rollback closed the migration record; the release tasks for the move's
   * other host (actors/compute/move-release.ts) are not published yet.
   */
  readonly 'move.closed': { readonly instanceId: string; readonly migrationId: string; readonly step: string };
  /**
   * A `host.release` judged, from the records read just now, that this host's guest of the
   * instance goes (`reap`) or stays; it is not destroyed yet (actors/compute/move-release.ts).
   */
  readonly 'release.judged': { readonly instanceId: string; readonly migrationId: string; readonly verdict: string };
  /** Placement answered a call; the caller has not used the answer. */
  readonly 'placement.answered': { readonly op: string; readonly consumer?: string };
  /** The conductor reserved a host for a member in its server group's record; nothing is claimed there yet. */
  readonly 'group.reserved': { readonly instanceId: string; readonly groupId: string; readonly host: string };
  /** A port creation claimed an address in `nv-ipam`; the port's record does not list it yet (records/ipam.ts). */
  readonly 'port.addressClaimed': { readonly portId: string; readonly subnetId: string; readonly ip: string };
  /**
   * A volume step wrote the volume's record (actors/compute/volume-steps.ts): `status` is the
   * instance's attachment now (`released`: gone; `connected`: the driver attached it, not yet recorded;
   * `rehosted`: step `here`, a move's end or an unshelve named this host, the guest not yet connected).
   * A live migration's: step `liveMigrate` `attaching` (the destination's attachment made),
   * `postLiveMigration` `attached` (completed, the guest not yet connected) and `settled` (the
   * source's deleted), `moveRollback` `dropped` (the destination's deleted).
   */
  readonly 'volume.changed': {
    readonly instanceId: string;
    readonly volumeId: string;
    readonly step: string;
    readonly status: string;
  };
}

export type KillPointName = keyof KillPointContexts;

/** The names, for matrices that run over every point. */
export const KILL_POINTS: readonly KillPointName[] = [
  'instance.recordWritten',
  'instance.eventPublished',
  'instance.stepFinished',
  'inbox.acked',
  'tracker.applied',
  'move.closed',
  'release.judged',
  'placement.answered',
  'group.reserved',
  'port.addressClaimed',
  'volume.changed',
];

/** The hook: called at each point, awaited before the continuation goes on. */
export type KillPoint = <P extends KillPointName>(point: P, ctx: KillPointContexts[P]) => Promise<void>;
