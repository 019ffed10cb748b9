/**
 * Whether a compute host may act on another host's request (`nv.rpc.<callee>.from.<caller>.*`,
 * `nv.tracker.<callee>.from.<caller>.*`; docs/security.md "Calls between hosts"): judged by
 * the callee from the records alone, never from what the caller says about itself. A host may
 * destroy a guest of, prepare an incoming guest for, or claim or drop a move side of an
 * instance only when the instance record says that the caller owns the instance, at the epoch
 * the caller saw, and is running right now the very step (same key) that makes this call, in a
 * move between caller and callee that the migration record confirms, the callee on the side
 * that step acts on. Everything else is refused and changes nothing: a live guest in no move,
 * someone else's move, a late retry after a revert brought the instance back to the callee.
 */
import type { MigrationRecord } from '../../protocol/index.js';
import { instanceMachine } from './machine.js';
import type { Move, StepName } from './types.js';
import { inFlightStep, type InstanceSnapshot } from './view.js';

/** The cross-host operations a compute host serves to its peers. */
export const PEER_OPS = ['destroyGuest', 'preLiveMigration'] as const;
/** The tracker operations one host asks of another's tracker in a move. */
export const PEER_TRACKER_OPS = ['moveClaim', 'dropMoveClaim'] as const;
export type PeerOp = (typeof PEER_OPS)[number] | (typeof PEER_TRACKER_OPS)[number];
type Side = 'source' | 'destination';

/**
 * What the callee knows of a call: who (proven by the subject the server let the caller publish on), and what the
 * caller saw.
 */
export interface PeerCall {
  readonly op: PeerOp;
  readonly caller: string;
  readonly callee: string;
  readonly instanceId: string;
  readonly migrationId: string;
  /** The instance record's epoch and KV revision as the caller read them in its step. */
  readonly epoch: number;
  readonly revision: number;
  /** The caller's step key (`<instanceId>:<opId>:<step>`). */
  readonly stepKey: string;
  /** The move side a tracker operation claims or drops. */
  readonly side?: Side;
}

/** The records as the callee reads them. */
export interface PeerRecords {
  readonly instance:
    | {
        readonly value: { readonly owner: string; readonly epoch: number; readonly machine?: unknown };
        readonly revision: number;
      }
    | undefined;
  readonly migration: MigrationRecord | undefined;
}

/** `behind`: the callee's read is older than the caller's (a replica catching up): ask again. */
export type PeerVerdict =
  { readonly ok: true } | { readonly ok: false; readonly behind: boolean; readonly reason: string };

/** The steps each operation belongs to (machines/instance/moves.ts, live.ts). */
const STEPS: Readonly<Record<PeerOp, readonly StepName[]>> = {
  // confirm and a live migration's post step drop the source's guest; a live rollback the
  // incoming guest; a delete during or after a move the other side's guest
  destroyGuest: ['confirmSource', 'postLiveMigration', 'moveRollback', 'cleanupMove'],
  preLiveMigration: ['liveMigrate'],
  // the destination's claim, by the source while it picks one
  moveClaim: ['moveClaim'],
  // the side of the host whose guest goes (above) goes with it
  dropMoveClaim: ['confirmSource', 'postLiveMigration', 'moveRollback', 'cleanupMove'],
};

const OPEN_LIVE = new Set(['accepted', 'preparing', 'running']);
/** Statuses of a move still being set up or run (actors/records/migrations.ts has the full list). */
const OPEN = new Set(['pre-migrating', 'accepted', 'queued', 'preparing', 'running']);

const refuse = (reason: string): PeerVerdict => ({ ok: false, behind: false, reason });
const behind = (reason: string): PeerVerdict => ({ ok: false, behind: true, reason });

/**
 * The verdict on one call. `migrationIdOf` derives a move's migration id (the actor layer's
 * hash, injected: machines/ computes no digests).
 */
export function judgePeerCall(
  call: PeerCall,
  records: PeerRecords,
  migrationIdOf: (instanceId: string, opId: string) => string,
): PeerVerdict {
  const { caller, callee } = call;
  if (caller === callee) return refuse('a host does not call itself over the bus');
  const inst = records.instance;
  if (!inst) return refuse(`instance ${call.instanceId} has no record`);
  if (inst.revision < call.revision)
    return behind(
      `the record of ${call.instanceId} here is at revision ${inst.revision}, the caller saw ${call.revision}`,
    );
  const rec = inst.value;
  if (rec.owner !== `host:${caller}`)
    return refuse(`${caller} does not own instance ${call.instanceId} (its owner is ${rec.owner})`);
  if (rec.epoch !== call.epoch)
    return call.epoch > rec.epoch
      ? behind(`the record of ${call.instanceId} here is at epoch ${rec.epoch}, the caller saw ${call.epoch}`)
      : refuse(`the caller's epoch ${call.epoch} is stale (the record is at ${rec.epoch})`);
  const snap = restore(rec.machine);
  if (!snap) return refuse(`instance ${call.instanceId} has no running machine`);
  const step = inFlightStep(snap);
  if (!step || step.key !== call.stepKey)
    return refuse(`instance ${call.instanceId} is not in step ${call.stepKey} (it is in ${step?.key ?? 'no step'})`);
  if (!STEPS[call.op].includes(step.step)) return refuse(`${call.op} is no part of step ${step.step}`);
  const move: Move | null = snap.context.move;
  if (!move) return refuse(`instance ${call.instanceId} is in no move`);
  const mid = migrationIdOf(call.instanceId, move.opId);
  if (mid !== call.migrationId)
    return refuse(`migration ${call.migrationId} is not the move of instance ${call.instanceId}`);
  const mig = records.migration;
  // The moveClaim step creates the migration record just before it asks: a read without it may be behind.
  if (!mig && step.step === 'moveClaim') return behind(`migration ${mid} has no record here yet`);
  if (!mig || mig.migrationId !== mid || mig.instanceId !== call.instanceId)
    return refuse(`migration ${mid} has no record for instance ${call.instanceId}`);
  if (mig.sourceHost !== move.source) return refuse(`migration ${mid} does not start on ${move.source}`);
  if (step.step === 'moveClaim') {
    // No destination is recorded until one has accepted: any host but the source may be asked, once.
    if (caller !== move.source || callee === move.source || call.side !== 'destination')
      return refuse(`a move claim asks a destination for its side, from the source`);
    if ((mig.destHost ?? callee) !== callee || (move.dest ?? callee) !== callee)
      return refuse(`migration ${mid} already goes to ${mig.destHost ?? move.dest}`);
    return OPEN.has(mig.status) ? { ok: true } : refuse(`migration ${mid} is ${mig.status}`);
  }
  const dest = move.dest ?? mig.destHost;
  const parties = new Set([move.source, dest, mig.destHost].filter((h): h is string => h !== null));
  if (!parties.has(caller) || !parties.has(callee))
    return refuse(`migration ${mid} is between ${[...parties].join(' and ')}, not ${caller} and ${callee}`);
  // The side a tracker operation names is the callee's own side of this move.
  const calleeSide: Side = callee === move.source ? 'source' : 'destination';
  if (call.op === 'dropMoveClaim' && call.side !== calleeSide)
    return refuse(`${callee} holds the ${calleeSide} side of migration ${mid}, not the ${call.side ?? 'unnamed'} one`);
  switch (step.step) {
    case 'confirmSource':
    case 'postLiveMigration':
      // the destination owns it now; the source's guest (and side) is the old one
      return callee === move.source
        ? { ok: true }
        : refuse(`${step.step} drops the source's side, and ${callee} is not the source`);
    case 'moveRollback':
      return callee !== move.source ? { ok: true } : refuse('a rollback drops the destination side, never the source');
    case 'cleanupMove':
      return { ok: true };
    case 'liveMigrate':
      if (move.kind !== 'live') return refuse(`the move of ${call.instanceId} is a ${move.kind}, not a live migration`);
      if (caller !== move.source || callee !== dest || mig.destHost !== callee)
        return refuse(`instance ${call.instanceId} is not migrating from ${caller} to ${callee}`);
      return OPEN_LIVE.has(mig.status) ? { ok: true } : refuse(`migration ${mid} is ${mig.status}`);
    default:
      return refuse(`${call.op} is no part of step ${step.step}`);
  }
}

/** The persisted snapshot as a machine snapshot, or undefined if it is not one. */
function restore(persisted: unknown): InstanceSnapshot | undefined {
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  try {
    return instanceMachine.resolveState(persisted as never);
  } catch {
    return undefined;
  }
}
