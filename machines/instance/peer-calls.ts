/**
 * Whether a compute host may act on another host's request (`nv.rpc.<callee>.from.<caller>.*`,
 * docs/security.md "Cross-host calls"): judged by the callee from the records alone, never
 * from what the caller says about itself. A host may destroy a guest of, or prepare an
 * incoming guest for, an instance only when the instance record says that the caller owns the
 * instance, at the epoch the caller saw, and is running right now the very step (same key)
 * that makes this call, in a move between caller and callee that the migration record
 * confirms. Everything else is refused and changes nothing: a live guest in no move, someone
 * else's move, a late retry after a revert brought the instance back to the callee.
 */
import type { MigrationRecord } from '../../protocol/index.js';
import { instanceMachine } from './machine.js';
import type { Move, StepName } from './types.js';
import { inFlightStep, type InstanceSnapshot } from './view.js';

/** The cross-host operations a compute host serves to its peers. */
export const PEER_OPS = ['destroyGuest', 'preLiveMigration'] as const;
export type PeerOp = (typeof PEER_OPS)[number];

/** What the callee knows of a call: who (proven by the subject the server let the caller publish on), and what the caller saw. */
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
}

/** The records as the callee reads them. */
export interface PeerRecords {
  readonly instance: { readonly value: { readonly owner: string; readonly epoch: number; readonly machine?: unknown }; readonly revision: number } | undefined;
  readonly migration: MigrationRecord | undefined;
}

/** `behind`: the callee's read is older than the caller's (a replica catching up): ask again. */
export type PeerVerdict = { readonly ok: true } | { readonly ok: false; readonly behind: boolean; readonly reason: string };

/** The steps each operation belongs to (machines/instance/moves.ts, live.ts). */
const STEPS: Readonly<Record<PeerOp, readonly StepName[]>> = {
  // confirm and a live migration's post step drop the source's guest; a live rollback the
  // incoming guest; a delete during or after a move the other side's guest
  destroyGuest: ['confirmSource', 'postLiveMigration', 'moveRollback', 'cleanupMove'],
  preLiveMigration: ['liveMigrate'],
};

const OPEN_LIVE = new Set(['accepted', 'preparing', 'running']);

const refuse = (reason: string): PeerVerdict => ({ ok: false, behind: false, reason });
const behind = (reason: string): PeerVerdict => ({ ok: false, behind: true, reason });

/**
 * The verdict on one call. `migrationIdOf` derives a move's migration id (the actor layer's
 * hash, injected: machines/ computes no digests).
 */
export function judgePeerCall(call: PeerCall, records: PeerRecords, migrationIdOf: (instanceId: string, opId: string) => string): PeerVerdict {
  const { caller, callee } = call;
  if (caller === callee) return refuse('a host does not call itself over the bus');
  const inst = records.instance;
  if (!inst) return refuse(`instance ${call.instanceId} has no record`);
  if (inst.revision < call.revision) return behind(`the record of ${call.instanceId} here is at revision ${inst.revision}, the caller saw ${call.revision}`);
  const rec = inst.value;
  if (rec.owner !== `host:${caller}`) return refuse(`${caller} does not own instance ${call.instanceId} (its owner is ${rec.owner})`);
  if (rec.epoch !== call.epoch) return call.epoch > rec.epoch ? behind(`the record of ${call.instanceId} here is at epoch ${rec.epoch}, the caller saw ${call.epoch}`) : refuse(`the caller's epoch ${call.epoch} is stale (the record is at ${rec.epoch})`);
  const snap = restore(rec.machine);
  if (!snap) return refuse(`instance ${call.instanceId} has no running machine`);
  const step = inFlightStep(snap);
  if (!step || step.key !== call.stepKey) return refuse(`instance ${call.instanceId} is not in step ${call.stepKey} (it is in ${step?.key ?? 'no step'})`);
  if (!STEPS[call.op].includes(step.step)) return refuse(`${call.op} is no part of step ${step.step}`);
  const move: Move | null = snap.context.move;
  if (!move) return refuse(`instance ${call.instanceId} is in no move`);
  const mid = migrationIdOf(call.instanceId, move.opId);
  if (mid !== call.migrationId) return refuse(`migration ${call.migrationId} is not the move of instance ${call.instanceId}`);
  const mig = records.migration;
  if (!mig || mig.migrationId !== mid || mig.instanceId !== call.instanceId) return refuse(`migration ${mid} has no record for instance ${call.instanceId}`);
  if (mig.sourceHost !== move.source) return refuse(`migration ${mid} does not start on ${move.source}`);
  const dest = move.dest ?? mig.destHost;
  const parties = new Set([move.source, dest, mig.destHost].filter((h): h is string => h !== null));
  if (!parties.has(caller) || !parties.has(callee)) return refuse(`migration ${mid} is between ${[...parties].join(' and ')}, not ${caller} and ${callee}`);
  switch (step.step) {
    case 'confirmSource':
    case 'postLiveMigration':
      // the destination owns it now; the source's guest is the old one
      return callee === move.source ? { ok: true } : refuse(`${step.step} destroys the source's guest, and ${callee} is not the source`);
    case 'moveRollback':
      return callee !== move.source ? { ok: true } : refuse('a rollback destroys the incoming guest, never the source');
    case 'cleanupMove':
      return { ok: true };
    case 'liveMigrate':
      if (move.kind !== 'live') return refuse(`the move of ${call.instanceId} is a ${move.kind}, not a live migration`);
      if (caller !== move.source || callee !== dest || mig.destHost !== callee) return refuse(`instance ${call.instanceId} is not migrating from ${caller} to ${callee}`);
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
