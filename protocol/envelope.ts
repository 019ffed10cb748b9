/**
 * The envelope every message travels in (docs/protocol.md §3): one msgpack map.
 */
import { Type, type Static } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1 as const;

/** Characters allowed in a subject token: ids, projects, hosts, actions. */
export const TOKEN_PATTERN = '^[A-Za-z0-9_-]{1,128}$';
/** A message id: printable ASCII without spaces (it is also the JetStream `Nats-Msg-Id`). */
export const MESSAGE_ID_PATTERN = '^[\\x21-\\x7e]{1,128}$';

export const Token = Type.String({ pattern: TOKEN_PATTERN });

export const EnvelopeSchema = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    id: Type.String({ pattern: MESSAGE_ID_PATTERN }),
    type: Type.String({ minLength: 1, maxLength: 128 }),
    ts: Type.Integer({ minimum: 0 }),
    project: Token,
    user: Token,
    corr: Type.Optional(Type.String({ pattern: MESSAGE_ID_PATTERN })),
    body: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export type EnvelopeHeader = Omit<Static<typeof EnvelopeSchema>, 'body'>;

/** A decoded message: header fields plus a body already validated against the schema of `type`. */
export interface Envelope<TBody = Record<string, unknown>> extends EnvelopeHeader {
  readonly body: TBody;
}

/** The fields a sender supplies; `v` is filled in. */
export interface EnvelopeInit<TBody> {
  readonly id: string;
  readonly type: string;
  readonly ts: number;
  readonly project: string;
  readonly user: string;
  readonly corr?: string | undefined;
  readonly body: TBody;
}

export function envelope<TBody>(init: EnvelopeInit<TBody>): Envelope<TBody> {
  const env: Envelope<TBody> = {
    v: PROTOCOL_VERSION,
    id: init.id,
    type: init.type,
    ts: init.ts,
    project: init.project,
    user: init.user,
    body: init.body,
  };
  return init.corr === undefined ? env : { ...env, corr: init.corr };
}
