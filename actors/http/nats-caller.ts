/**
 * How the HTTP face speaks NATS for one caller (docs/protocol.md): requests to the gateway
 * (queries, images, groups, admin) and instance commands published to NV_CMD. A command is
 * answered as Nova answers: the gateway's or the host's refusal (`command.rejected`) becomes
 * the HTTP error Nova would have given synchronously, and anything else — its first event, or
 * no word within a few seconds while it stays durable in NV_CMD — is accepted (202).
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { errors as natsErrors, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import {
  adminType,
  COMMAND_REJECTED,
  commandType,
  decodeMessage,
  encodeMessage,
  envelope,
  groupType,
  imageType,
  MessageKind,
  netType,
  queryType,
  subjects,
  type InstanceAction,
  type Subjects,
} from '../../protocol/index.js';
import {
  ADMIN_PROJECT,
  CallError,
  callService,
  type Clock,
  type IdSource,
  type TimerHandle,
} from '../runtime/index.js';

/** How a command ended as far as the API waits for it. */
export type CommandOutcome =
  | { readonly accepted: true; readonly commandId: string }
  | { readonly accepted: false; readonly code: string; readonly message: string };

/** How long a command's refusal is waited for before it is taken as accepted (it stays durable). */
const COMMAND_WORD_MS = 10_000;

export class NatsCaller {
  private readonly js: JetStreamClient;
  private readonly s: Subjects;
  constructor(
    readonly nc: NatsConnection,
    /** The project every request and command is made in (the token's). */
    readonly project: string,
    /** The envelope's user (the token's; in secure mode also the connection's). */
    readonly user: string,
    /** Time and ids (message ids, instance ids) of this process. */
    readonly clock: Clock,
    readonly ids: IdSource,
    prefix?: string,
  ) {
    this.js = jetstream(nc);
    this.s = subjects(prefix);
  }

  /** One request/reply; an error reply, no responders or a timeout is a CallError (status, code). */
  async request<T>(subject: string, type: string, body: Record<string, unknown>, o: RequestOptions = {}): Promise<T> {
    const req = envelope({
      id: o.id ?? this.ids.next(),
      type,
      ts: this.clock.now(),
      project: o.project ?? this.project,
      user: this.user,
      body,
    });
    return callService<T>(this.nc, subject, req, o.timeoutMs ?? 10_000, { refusedAs403: true });
  }

  /** `nv.query.<project>.<what>`. */
  query<T>(what: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(this.s.query(this.project, what), queryType(what), body);
  }

  /** `nv.image.<project>.<op>`; `id` the same on a retry makes a retried create find its image. */
  image<T>(op: string, body: Record<string, unknown>, id?: string): Promise<T> {
    return this.request<T>(this.s.image(this.project, op), imageType(op), body, {
      timeoutMs: 30_000,
      ...(id ? { id } : {}),
    });
  }

  /** `nv.group.<project>.<op>` (server groups). */
  group<T>(op: string, body: Record<string, unknown>, id?: string): Promise<T> {
    return this.request<T>(this.s.group(this.project, op), groupType(op), body, id ? { id } : {});
  }

  /** `nv.net.<project>.<kind>.<op>` (networks, subnets, ports). */
  net<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(this.s.net(this.project, op), netType(op), body);
  }

  /** `nv.admin.<op>`, in the admin project (the only one a secure gateway takes admin requests from). */
  admin<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(this.s.admin(op), adminType(op), body, { project: ADMIN_PROJECT });
  }

  /**
   * Publishes one instance command (Nats-Msg-Id = its id) in `project` (the token's, or the
   * admin project for what novactor honours only there) and waits for its first word.
   */
  async command(
    instanceId: string,
    action: InstanceAction,
    body: Record<string, unknown>,
    project = this.project,
    owner = this.project,
  ): Promise<CommandOutcome> {
    const commandId = this.ids.next();
    // Listen before publishing so that no word is missed; a refusal of a command sent in the admin
    // project comes on the admin project's subjects, its lifecycle on the owner's (`owner`).
    const subs: Subscription[] = [...new Set([this.project, project, owner])].map((p) =>
      this.nc.subscribe(this.s.evtInstance(p, instanceId)),
    );
    try {
      const word = Promise.race(subs.map((sub) => firstWord(sub, commandId)));
      const env = envelope({
        id: commandId,
        type: commandType(action),
        ts: this.clock.now(),
        project,
        user: this.user,
        body,
      });
      try {
        await this.js.publish(this.s.cmd(project, instanceId, action), encodeMessage(env), { msgID: commandId });
      } catch (err) {
        if (err instanceof natsErrors.PermissionViolationError)
          throw new CallError(403, 'NotAuthorized', `not allowed: ${err.message}`, { cause: err });
        throw new CallError(503, 'ServiceUnavailable', `the command was not stored: ${(err as Error).message}`, {
          cause: err,
        });
      }
      let timer: TimerHandle | undefined;
      const quiet = new Promise<undefined>((r) => (timer = this.clock.setTimeout(() => r(undefined), COMMAND_WORD_MS)));
      const first = await Promise.race([word, quiet]);
      if (timer) this.clock.clearTimeout(timer);
      if (first && first.type === COMMAND_REJECTED)
        return { accepted: false, code: String(first.body['code']), message: String(first.body['message']) };
      return { accepted: true, commandId };
    } finally {
      for (const sub of subs) sub.unsubscribe();
    }
  }
}

export interface RequestOptions {
  readonly id?: string;
  readonly project?: string;
  readonly timeoutMs?: number;
}

/**
 * The first event of `sub` that follows from `commandId`; never resolves when there is none, and
 * never rejects: a subscription that fails (the server refused it) only means no word comes, and
 * the command, already durable, is answered as accepted — a rejection here, before anyone awaits
 * it, would be an unhandled one.
 */
async function firstWord(sub: Subscription, commandId: string) {
  try {
    for await (const m of sub) {
      const e = decodeMessage<Record<string, unknown>>(m.data, MessageKind.Event);
      if (e.ok && e.value.corr === commandId) return e.value;
    }
  } catch {
    // no word from this subscription
  }
  return new Promise<never>(() => undefined);
}
