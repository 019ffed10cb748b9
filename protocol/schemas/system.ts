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
      { process: TokenString, role: TokenString, pid: Type.Integer({ minimum: 0 }), state: ProcessState, actors: Type.Array(ActorStatus) },
      { additionalProperties: false },
    ),
  },
  kill: {
    request: Type.Object({ actor: Type.String({ minLength: 1, maxLength: 255 }), restartAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000 })) }, { additionalProperties: false }),
    reply: Type.Object({ actor: Type.String(), killed: Type.Boolean() }, { additionalProperties: false }),
  },
} as const;

/** System events: body shapes by event type. */
export const SystemEvents = {
  'placement.leader': Type.Object({ name: TokenString, term: Type.Integer({ minimum: 0 }), leader: Type.Boolean() }, { additionalProperties: false }),
  'service.up': Type.Object({ name: TokenString, role: TokenString }, { additionalProperties: false }),
  'service.down': Type.Object({ name: TokenString, role: TokenString }, { additionalProperties: false }),
} as const;
