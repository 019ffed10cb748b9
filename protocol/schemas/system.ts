/**
 * Operator and supervisor messages: `nv.ctl.<target>.<op>` and system events on
 * `nv.evt._system.<kind>.<name>.<event>`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TokenString } from './common.js';

export const ProcessState = Type.Union(['starting', 'running', 'draining', 'stopped'].map((s) => Type.Literal(s)));
export type ProcessState = 'starting' | 'running' | 'draining' | 'stopped';

export const ActorStatus = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    state: Type.Union(['starting', 'running', 'restarting', 'stopped', 'failed'].map((s) => Type.Literal(s))),
    restarts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ActorStatus = Static<typeof ActorStatus>;

export const CtlOps = {
  status: {
    request: Type.Object({}, { additionalProperties: false }),
    reply: Type.Object(
      {
        process: TokenString,
        role: TokenString,
        pid: Type.Integer({ minimum: 0 }),
        state: ProcessState,
        actors: Type.Array(ActorStatus),
      },
      { additionalProperties: false },
    ),
  },
  kill: {
    request: Type.Object(
      {
        actor: Type.String({ minLength: 1, maxLength: 255 }),
        restartAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000 })),
      },
      { additionalProperties: false },
    ),
    reply: Type.Object({ actor: Type.String(), killed: Type.Boolean() }, { additionalProperties: false }),
  },
} as const;

/**
 * One thing a host's periodic audit found out of order (docs/audit.md, "What the host audit
 * repairs"): a tracker claim no record calls for (`stale-claim`), one the records call for
 * that the tracker lacked (`missing-claim`) or held differently (`changed-claim`), an
 * allocation on the host's provider whose consumer is gone (`leaked-allocation`), a shelved
 * image of a deleted instance (`orphan-image`), a volume attachment of a deleted or unknown instance
 * (`leaked-attachment`). `id` is the claim key, consumer, image key or `<volume>:<instance>`.
 */
export const AUDIT_FINDING_KINDS = [
  'stale-claim',
  'missing-claim',
  'changed-claim',
  'leaked-allocation',
  'orphan-image',
  'leaked-attachment',
] as const;
export const AuditFinding = Type.Object(
  {
    kind: Type.Union(AUDIT_FINDING_KINDS.map((k) => Type.Literal(k))),
    id: Type.String({ minLength: 1, maxLength: 255 }),
    instanceId: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
    detail: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type AuditFinding = Static<typeof AuditFinding>;

/** System events: body shapes by event type. */
export const SystemEvents = {
  'placement.leader': Type.Object(
    { name: TokenString, term: Type.Integer({ minimum: 0 }), leader: Type.Boolean() },
    { additionalProperties: false },
  ),
  'service.up': Type.Object({ name: TokenString, role: TokenString }, { additionalProperties: false }),
  'service.down': Type.Object({ name: TokenString, role: TokenString }, { additionalProperties: false }),
  'audit.healed': Type.Object(
    { host: TokenString, repaired: Type.Array(AuditFinding, { minItems: 1, maxItems: 1000 }) },
    { additionalProperties: false },
  ),
} as const;
