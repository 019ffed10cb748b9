/**
 * The binding of the check on calls between hosts (machines/instance/peer-calls.ts): reads the
 * instance and migration records the rule judges, and turns its verdict into the reply. Used
 * by this host's rpc (./rpc.ts) and its tracker's face (../tracker/server.ts).
 */
import { judgePeerCall, type PeerCall, type PeerOp } from '../../machines/instance/index.js';
import { PeerRpcErrorCode, type ErrorBody, type InstanceRecord, type MigrationRecord } from '../../protocol/index.js';
import { type RecordBucket, migrationIdOf } from '../records/index.js';

/** What the caller sent about the move (everything of a PeerCall but who asks whom). */
export type PeerClaim = Omit<PeerCall, 'op' | 'caller' | 'callee'>;

/** Undefined: go ahead. Otherwise the error to answer with, having done nothing. */
export type PeerGate = (op: PeerOp, caller: string, claim: PeerClaim) => Promise<ErrorBody | undefined>;

export function peerGate(d: {
  host: string;
  instances: RecordBucket<InstanceRecord>;
  migrations: RecordBucket<MigrationRecord>;
  log: (line: string, err?: unknown) => void;
}): PeerGate {
  return async (op, caller, claim) => {
    const [instance, migration] = await Promise.all([
      d.instances.get(claim.instanceId),
      d.migrations.get(claim.migrationId),
    ]);
    const verdict = judgePeerCall(
      { ...claim, op, caller, callee: d.host },
      { instance, migration: migration?.value },
      migrationIdOf,
    );
    if (verdict.ok) return undefined;
    if (verdict.behind) return { status: 503, code: 'ServiceUnavailable', message: `${verdict.reason}; retry` };
    d.log(`refused ${op} of ${claim.instanceId} from ${caller}: ${verdict.reason}`);
    return { status: 403, code: PeerRpcErrorCode.PeerCallRefused, message: verdict.reason };
  };
}
