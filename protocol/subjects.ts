/**
 * Subject builders and parsers (docs/protocol.md §4). Every token that comes from a caller is
 * validated: a `.`, `*`, `>` or whitespace inside an id would let it address, or
 * subscribe to, subjects it must not.
 */
import { fail, ok, ProtocolError, ProtocolErrorCode, type Decoded } from './errors.js';

export const DEFAULT_PREFIX = 'nv';
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** True when `s` can stand as one subject token. */
export function isToken(s: unknown): s is string {
  return typeof s === 'string' && TOKEN.test(s);
}

/** Project ids starting with `_` are reserved for the system (`_system`). */
export function isProjectToken(s: unknown): s is string {
  return isToken(s) && !s.startsWith('_');
}

function token(what: string, s: string): string {
  if (!isToken(s)) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidSubject,
      `${what} ${JSON.stringify(s)} is not a valid subject token (letters, digits, _ and - only, 1-128 chars)`,
    );
  }
  return s;
}

/** A dotted name such as an event type or an op: tokens joined by dots. */
function dotted(what: string, s: string): string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 128 || !s.split('.').every((t) => TOKEN.test(t))) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidSubject,
      `${what} ${JSON.stringify(s)} is not a valid dotted name`,
    );
  }
  return s;
}

export const SYSTEM_PROJECT = '_system';

/**
 * Builders throw `ProtocolError(InvalidSubject)` on a bad token: they are called by our
 * own code, where a bad token is a bug or an input that should have been validated.
 */
export function subjects(prefix: string = DEFAULT_PREFIX) {
  // One token: stream and bucket names are derived from it, and they cannot hold dots.
  token('prefix', prefix);
  return {
    prefix,
    /** User command: `nv.cmd.<project>.<instanceId>.<action>` (stream NV_CMD). */
    cmd: (project: string, instanceId: string, action: string) =>
      `${prefix}.cmd.${token('project', project)}.${token('instance id', instanceId)}.${token('action', action)}`,
    cmdAll: () => `${prefix}.cmd.>`,
    /**
     * Work for one compute host, every kind (the envelope's type says which): `nv.host.<host>.task`
     * (stream NV_HOST). One literal subject per host, so the host's durable filters on it
     * exactly: nats-server 2.9 matches every consumer's filter against each message a work
     * queue removes, and a wildcard filter costs it a tokenized match per consumer — at 10,000
     * hosts, 60 % of its CPU (issue 17, docs/bench.md).
     */
    host: (host: string) => `${prefix}.host.${token('host', host)}.task`,
    /** Everything addressed to one host, also under an older version's `nv.host.<host>.<kind>`. */
    hostAll: (host: string) => `${prefix}.host.${token('host', host)}.>`,
    /** Conductor work queue: `nv.conductor.<task>` (stream NV_CONDUCTOR). */
    conductor: (task: string) => `${prefix}.conductor.${token('task', task)}`,
    /** Lifecycle event: `nv.evt.<project>.<instanceId>.<event type>`; the type keeps its dots. */
    evt: (project: string, instanceId: string, eventType: string) =>
      `${prefix}.evt.${token('project', project)}.${token('instance id', instanceId)}.${dotted('event type', eventType)}`,
    evtInstance: (project: string, instanceId: string) =>
      `${prefix}.evt.${token('project', project)}.${token('instance id', instanceId)}.>`,
    evtProject: (project: string) => `${prefix}.evt.${token('project', project)}.>`,
    /** System event: `nv.evt._system.<kind>.<name>.<event>`. */
    systemEvt: (kind: string, name: string, event: string) =>
      `${prefix}.evt.${SYSTEM_PROJECT}.${token('kind', kind)}.${token('name', name)}.${dotted('event', event)}`,
    query: (project: string, what: string) => `${prefix}.query.${token('project', project)}.${dotted('query', what)}`,
    admin: (op: string) => `${prefix}.admin.${dotted('op', op)}`,
    /** A user's image upload or delete: `nv.image.<project>.<op>` (docs/protocol.md §8.8). */
    image: (project: string, op: string) => `${prefix}.image.${token('project', project)}.${token('op', op)}`,
    /** A user's server groups: `nv.group.<project>.<op>` (docs/protocol.md §8.10). */
    group: (project: string, op: string) => `${prefix}.group.${token('project', project)}.${token('op', op)}`,
    /** A user's networks, subnets and ports: `nv.net.<project>.<kind>.<op>` (docs/protocol.md §8.11). */
    net: (project: string, op: string) => `${prefix}.net.${token('project', project)}.${dotted('op', op)}`,
    /** A user's volumes: `nv.volume.<project>.<op>` (docs/protocol.md §8.12). */
    volume: (project: string, op: string) => `${prefix}.volume.${token('project', project)}.${token('op', op)}`,
    placement: (op: string) => `${prefix}.placement.${dotted('op', op)}`,
    tracker: (host: string, op: string) => `${prefix}.tracker.${token('host', host)}.${dotted('op', op)}`,
    rpc: (host: string, op: string) => `${prefix}.rpc.${token('host', host)}.${dotted('op', op)}`,
    /**
     * One compute host's call to another: `nv.rpc.<callee>.from.<caller>.<op>`. A host user
     * may publish only with its own name as `<caller>` (nats.secure.conf), so the callee
     * knows from the subject, as the server proved it, who is asking.
     */
    peerRpc: (callee: string, caller: string, op: string) =>
      `${prefix}.rpc.${token('host', callee)}.from.${token('caller', caller)}.${dotted('op', op)}`,
    /** The same for a host's tracker: `nv.tracker.<callee>.from.<caller>.<op>`. */
    peerTracker: (callee: string, caller: string, op: string) =>
      `${prefix}.tracker.${token('host', callee)}.from.${token('caller', caller)}.${dotted('op', op)}`,
    ctl: (target: string, op: string) => `${prefix}.ctl.${token('target', target)}.${dotted('op', op)}`,
    ctlAll: (target: string) => `${prefix}.ctl.${token('target', target)}.>`,
  } as const;
}

export type Subjects = ReturnType<typeof subjects>;

export interface CommandAddress {
  readonly project: string;
  readonly instanceId: string;
  readonly action: string;
}

/** Parses `nv.cmd.<project>.<instanceId>.<action>`; a wrong shape or a bad token is an error. */
export function parseCommandSubject(subject: string, prefix: string = DEFAULT_PREFIX): Decoded<CommandAddress> {
  const head = `${prefix}.cmd.`;
  if (!subject.startsWith(head)) return fail(ProtocolErrorCode.InvalidSubject, `not a command subject: ${subject}`);
  const parts = subject.slice(head.length).split('.');
  if (parts.length !== 3)
    return fail(
      ProtocolErrorCode.InvalidSubject,
      `a command subject is ${head}<project>.<instanceId>.<action>: ${subject}`,
    );
  const [project, instanceId, action] = parts as [string, string, string];
  if (!isProjectToken(project)) return fail(ProtocolErrorCode.InvalidSubject, `bad project token in ${subject}`);
  if (!isToken(instanceId)) return fail(ProtocolErrorCode.InvalidSubject, `bad instance id token in ${subject}`);
  if (!isToken(action)) return fail(ProtocolErrorCode.InvalidSubject, `bad action token in ${subject}`);
  return ok({ project, instanceId, action });
}

export interface EventAddress {
  readonly project: string;
  readonly instanceId: string;
  readonly eventType: string;
}

/** Parses `nv.evt.<project>.<instanceId>.<event type>` (the event type may contain dots). */
export function parseEventSubject(subject: string, prefix: string = DEFAULT_PREFIX): Decoded<EventAddress> {
  const head = `${prefix}.evt.`;
  if (!subject.startsWith(head)) return fail(ProtocolErrorCode.InvalidSubject, `not an event subject: ${subject}`);
  const parts = subject.slice(head.length).split('.');
  if (parts.length < 3 || !parts.every((t) => TOKEN.test(t)))
    return fail(ProtocolErrorCode.InvalidSubject, `malformed event subject: ${subject}`);
  const [project, instanceId, ...rest] = parts as [string, string, ...string[]];
  return ok({ project, instanceId, eventType: rest.join('.') });
}

/** Parses `nv.<rpc|tracker>.<callee>.from.<caller>.<op>` for a known callee. */
export function parsePeerSubject(
  subject: string,
  family: 'rpc' | 'tracker',
  callee: string,
  prefix: string = DEFAULT_PREFIX,
): Decoded<{ caller: string; op: string }> {
  const head = `${prefix}.${family}.${callee}.from.`;
  if (!subject.startsWith(head))
    return fail(ProtocolErrorCode.InvalidSubject, `not a peer call to ${callee}: ${subject}`);
  const parts = subject.slice(head.length).split('.');
  if (parts.length !== 2 || !parts.every((t) => TOKEN.test(t)))
    return fail(ProtocolErrorCode.InvalidSubject, `a peer call is ${head}<caller>.<op>: ${subject}`);
  const [caller, op] = parts as [string, string];
  return ok({ caller, op });
}

/** The last token(s) after a fixed head, e.g. the op of `nv.placement.<op>`. */
export function parseOpSubject(subject: string, head: string): Decoded<string> {
  const prefixWithDot = `${head}.`;
  if (!subject.startsWith(prefixWithDot))
    return fail(ProtocolErrorCode.InvalidSubject, `expected ${head}.<op>: ${subject}`);
  const op = subject.slice(prefixWithDot.length);
  if (!op.split('.').every((t) => TOKEN.test(t))) return fail(ProtocolErrorCode.InvalidSubject, `bad op in ${subject}`);
  return ok(op);
}
