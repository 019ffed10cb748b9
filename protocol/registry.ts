/**
 * Every message type the system speaks, by kind, with its body schema. A type not listed
 * here is rejected by the decoder (docs/protocol.md §13).
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ERROR_TYPE } from './errors.js';
import { ErrorBodySchema } from './schemas/common.js';
import {
  COMMAND_REJECTED,
  CommandRejectedBody,
  INSTANCE_EVENT_TYPES,
  InstanceCommandBodies,
  InstanceEventBody,
  InstanceQueries,
  commandType,
  type InstanceAction,
} from './schemas/instance.js';
import { PlacementOps } from './schemas/placement.js';
import { CtlOps, SystemEvents } from './schemas/system.js';
import { InternalTasks } from './schemas/internal.js';
import { HostRpcOps, TrackerOps } from './schemas/host.js';
import {
  ActionQueries,
  AdminOps,
  FlavorQueries,
  ImageQueries,
  MigrationQueries,
  QuotaQueries,
  ZoneQueries,
} from './schemas/admin.js';
import { ImageOps } from './schemas/images.js';
import { GroupOps } from './schemas/groups.js';
import { NetOps } from './schemas/networks.js';
import { VolumeOps } from './schemas/volumes.js';

/** What a message is, which decides where its type is looked up. */
export const MessageKind = {
  Command: 'command',
  Event: 'event',
  Request: 'request',
  Reply: 'reply',
  Task: 'task',
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** Envelope type names of request/reply families: `<family>.<op>`. */
export const queryType = (what: string) => `query.${what}`;
export const placementType = (op: string) => `placement.${op}`;
export const ctlType = (op: string) => `ctl.${op}`;
export const trackerType = (op: string) => `tracker.${op}`;
export const rpcType = (op: string) => `rpc.${op}`;
export const adminType = (op: string) => `admin.${op}`;
export const imageType = (op: string) => `image.${op}`;
export const groupType = (op: string) => `group.${op}`;
/** `<kind>.<op>` of a network request (`network.create`…): the type `net.network.create`. */
export const netType = (op: string) => `net.${op}`;
export const volumeType = (op: string) => `volume.${op}`;

type OpTable = Readonly<Record<string, { readonly request: TSchema; readonly reply: TSchema }>>;

function ops(
  table: OpTable,
  typeOf: (op: string) => string,
  into: { requests: Map<string, TSchema>; replies: Map<string, TSchema> },
) {
  for (const [op, { request, reply }] of Object.entries(table)) {
    into.requests.set(typeOf(op), request);
    into.replies.set(typeOf(op), reply);
  }
}

function build(): Record<MessageKind, Map<string, TSchema>> {
  const commands = new Map<string, TSchema>();
  for (const [action, schema] of Object.entries(InstanceCommandBodies))
    commands.set(commandType(action as InstanceAction), schema);

  const events = new Map<string, TSchema>();
  for (const t of INSTANCE_EVENT_TYPES) events.set(t, InstanceEventBody);
  events.set(COMMAND_REJECTED, CommandRejectedBody);
  for (const [t, schema] of Object.entries(SystemEvents)) events.set(t, schema);

  const rr = { requests: new Map<string, TSchema>(), replies: new Map<string, TSchema>() };
  ops(InstanceQueries, queryType, rr);
  ops(PlacementOps as OpTable, placementType, rr);
  ops(CtlOps, ctlType, rr);
  ops(TrackerOps, trackerType, rr);
  ops(HostRpcOps, rpcType, rr);
  ops(FlavorQueries, queryType, rr);
  ops(MigrationQueries, queryType, rr);
  ops(ActionQueries, queryType, rr);
  ops(ImageQueries, queryType, rr);
  ops(QuotaQueries, queryType, rr);
  ops(ZoneQueries, queryType, rr);
  ops(AdminOps, adminType, rr);
  ops(ImageOps, imageType, rr);
  ops(GroupOps, groupType, rr);
  ops(NetOps, netType, rr);
  ops(VolumeOps, volumeType, rr);
  rr.replies.set(ERROR_TYPE, ErrorBodySchema);

  const tasks = new Map<string, TSchema>(Object.entries(InternalTasks));

  return { command: commands, event: events, request: rr.requests, reply: rr.replies, task: tasks };
}

const schemas = build();
const compiled = new Map<TSchema, TypeCheck<TSchema>>();

/** The compiled validator for a message type of a kind, or undefined when the type is unknown. */
export function validatorFor(kind: MessageKind, type: string): TypeCheck<TSchema> | undefined {
  const schema = schemas[kind].get(type);
  if (!schema) return undefined;
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** All known types of a kind (for docs and exhaustive tests). */
export function knownTypes(kind: MessageKind): string[] {
  return [...schemas[kind].keys()];
}

/** The raw schema of a type (for docs and tests). */
export function schemaFor(kind: MessageKind, type: string): TSchema | undefined {
  return schemas[kind].get(type);
}
