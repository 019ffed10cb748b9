/**
 * Server groups (Nova's os-server-groups, microversion 2.64 shape): `nv.group.<project>.<op>`,
 * request/reply in the `gateway` queue group (docs/protocol.md §8.10, docs/scheduling.md). A
 * boot names its group in `schedulerHints.group`; the conductor places every member under the
 * group's policy, one reservation at a time per group (compare-and-set on its record).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name, TokenString } from './common.js';

/** Nova's four policies (2.64: one policy per group). */
export const GROUP_POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;
export const GroupPolicy = Type.Union(GROUP_POLICIES.map((p) => Type.Literal(p)));
export type GroupPolicy = Static<typeof GroupPolicy>;

/** `maxServerPerHost` (Nova's `max_server_per_host`): only with `anti-affinity`. */
export const GroupRules = Type.Object(
  { maxServerPerHost: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) },
  { additionalProperties: false },
);
export type GroupRules = Static<typeof GroupRules>;

/** How many members a group may have (Nova's default `server_group_members` quota is 10; novactor allows more). */
export const MAX_GROUP_MEMBERS = 1000;

/**
 * A group in `nv-server-groups`, keyed by group id. `members` maps each member instance to the
 * host the conductor reserved for it (null before one is): the member's record, once it names
 * a host, is the truth, and a member whose record is gone or deleted no longer counts.
 */
export const ServerGroupRecord = Type.Object(
  {
    groupId: TokenString,
    name: Name,
    project: TokenString,
    user: TokenString,
    policy: GroupPolicy,
    rules: GroupRules,
    members: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }), Type.Union([Type.Null(), TokenString]), {
      maxProperties: MAX_GROUP_MEMBERS,
    }),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ServerGroupRecord = Static<typeof ServerGroupRecord>;

/** What a client sees of a group: Nova's fields, members as a list of live instances. */
export const ServerGroupView = Type.Object(
  {
    id: TokenString,
    name: Name,
    policy: GroupPolicy,
    rules: GroupRules,
    members: Type.Array(TokenString, { maxItems: MAX_GROUP_MEMBERS }),
    project: TokenString,
    user: TokenString,
  },
  { additionalProperties: false },
);
export type ServerGroupView = Static<typeof ServerGroupView>;

const GroupReply = Type.Object({ group: ServerGroupView }, { additionalProperties: false });
const GroupRef = Type.Object({ groupId: TokenString }, { additionalProperties: false });

export const GroupOps = {
  create: {
    request: Type.Object(
      { name: Name, policy: GroupPolicy, rules: Type.Optional(GroupRules) },
      { additionalProperties: false },
    ),
    reply: GroupReply,
  },
  list: {
    request: Type.Object({}, { additionalProperties: false }),
    reply: Type.Object({ groups: Type.Array(ServerGroupView) }, { additionalProperties: false }),
  },
  show: { request: GroupRef, reply: GroupReply },
  delete: { request: GroupRef, reply: Type.Object({}, { additionalProperties: false }) },
} as const;
