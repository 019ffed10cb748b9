/**
 * Identity's tokens (docs/http-api.md, Identity): who may authenticate, and what a token is on
 * the bus. In development mode (no --secure) any password is accepted, roles come from the user
 * name, and every caller shares this process's NATS connection, naming the token's user in its
 * envelopes, which such a gateway trusts. In secure mode the users are the NATS users of
 * `DIR/creds` and the password is checked by the NATS server itself: authenticating opens a
 * connection as that user, and every request the token makes goes over it, so the server's
 * permissions (docs/security.md) bound what the token can do whatever this layer lets through.
 * Tokens live in this process's memory: a token is valid at the API process that issued it.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { developmentRole, type PasswordAuth, type Role, type TokenInfo } from '../../machines/http/index.js';
import { ADMIN_PROJECT, connectNats, type Clock, type IdSource } from '../runtime/index.js';
import { NatsCaller } from './nats-caller.js';

/** How every issued token id starts (as Keystone's Fernet tokens do). */
const ISSUED = 'gAAAA';

/** Live tokens one process keeps at most: past this the oldest is dropped (its holder authenticates again). */
export const MAX_TOKENS = 100_000;

/** Keystone's default token lifetime: an hour. */
export const DEFAULT_TOKEN_TTL_MS = 3_600_000;

/** A caller resolved from its token: who it is, in which project, and how it speaks NATS. */
export interface Identity {
  readonly token: TokenInfo;
  /** The token's project (a scoped token; unscoped ones are refused by the APIs). */
  readonly project: string;
  readonly role: Role;
  readonly caller: NatsCaller;
}

export const isAdmin = (i: Identity) => i.role === 'admin';
/** Nova's and Glance's default policies: a reader may look, not act. */
export const mayWrite = (i: Identity) => i.role !== 'reader';

export interface TokensOptions {
  /** This process's connection: every caller's in development mode. */
  readonly nc: NatsConnection;
  /** Secure mode: the NATS servers to open each user's connection to (its password checked there). */
  readonly secureServers?: readonly string[];
  readonly prefix?: string;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly ttlMs?: number;
}

export type Authenticated =
  { readonly ok: true; readonly token: TokenInfo } | { readonly ok: false; readonly why: string };

export class Tokens {
  private readonly tokens = new Map<string, TokenInfo>();
  /** Secure mode: one connection per NATS user, opened when it first authenticates. */
  private readonly connections = new Map<string, { password: string; nc: Promise<NatsConnection> }>();
  private readonly ttlMs: number;
  private purgedAt = 0;
  constructor(private readonly o: TokensOptions) {
    this.ttlMs = o.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
  }

  get secure(): boolean {
    return this.o.secureServers !== undefined;
  }

  /** A password authentication: a new token, or why not (401). */
  async authenticate(a: PasswordAuth): Promise<Authenticated> {
    let role: Role;
    if (this.secure) {
      // The creds dir's users: `admin` (any project, the admin), `tenant-<p>` (project p only).
      const tenant = /^tenant-(.+)$/.exec(a.user)?.[1];
      if (a.user === ADMIN_PROJECT) role = 'admin';
      else if (tenant !== undefined) {
        if (a.project !== undefined && a.project !== tenant)
          return { ok: false, why: `user ${a.user} has no role on project ${a.project}` };
        role = 'member';
      } else return { ok: false, why: 'The request you have made requires authentication.' };
      if (!(await this.checkPassword(a.user, a.password)))
        return { ok: false, why: 'The request you have made requires authentication.' };
    } else role = developmentRole(a.user);
    if (a.project !== undefined && !/^[A-Za-z0-9-][A-Za-z0-9_-]{0,127}$/.test(a.project))
      return { ok: false, why: `Could not find project: ${a.project}.` };
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(a.user)) return { ok: false, why: `Could not find user: ${a.user}.` };
    return { ok: true, token: this.issue(a.user, a.project, role, ['password']) };
  }

  /** A token for another scope of the same user (the `token` method). */
  rescope(t: TokenInfo, project: string | undefined): Authenticated {
    if (this.secure && t.role !== 'admin' && project !== undefined && project !== t.project)
      return { ok: false, why: `user ${t.user} has no role on project ${project}` };
    return { ok: true, token: this.issue(t.user, project ?? t.project, t.role, ['token']) };
  }

  private issue(user: string, project: string | undefined, role: Role, methods: string[]): TokenInfo {
    this.purge();
    const now = this.o.clock.now();
    const token: TokenInfo = {
      id: `${ISSUED}${randomBytes(32).toString('base64url')}`,
      user,
      project,
      role,
      issuedAt: now,
      expiresAt: now + this.ttlMs,
      methods,
      auditId: this.o.ids.next().replace(/-/g, '').slice(0, 22),
    };
    this.tokens.set(token.id, token);
    // A flood of authentications (any password works in development mode) must not grow without bound.
    if (this.tokens.size > MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    return token;
  }

  /** A live token by id (undefined: unknown, revoked or expired). */
  find(id: string): TokenInfo | undefined {
    const t = this.tokens.get(id);
    if (!t) return undefined;
    if (t.expiresAt <= this.o.clock.now()) {
      this.tokens.delete(id);
      return undefined;
    }
    return t;
  }

  revoke(id: string): boolean {
    return this.tokens.delete(id);
  }

  /**
   * The caller an `X-Auth-Token` stands for: an issued token that is scoped to a project, or in
   * development mode a `noauth2` token as Nova's and Placement's noauth2 take them
   * (`<user>:<project>`, or `<user>` alone for user and project alike).
   */
  async resolve(header: string | string[] | undefined): Promise<Identity | undefined> {
    const id = Array.isArray(header) ? header[0] : header;
    if (id === undefined || id === '') return undefined;
    const t = this.find(id);
    if (t) {
      if (t.project === undefined) return undefined;
      return { token: t, project: t.project, role: t.role, caller: await this.callerOf(t.user, t.project) };
    }
    // An issued token's id (`gAAAA…`) that is not live is refused, never read as a noauth2 token.
    if (this.secure || id.startsWith(ISSUED)) return undefined;
    const m = /^([A-Za-z0-9_-]{1,128})(?::([A-Za-z0-9-][A-Za-z0-9_-]{0,127}))?$/.exec(id);
    if (!m) return undefined;
    const user = m[1]!;
    const project = m[2] ?? user;
    const now = this.o.clock.now();
    const role = developmentRole(user);
    const token: TokenInfo = {
      id,
      user,
      project,
      role,
      issuedAt: now,
      expiresAt: now,
      methods: [],
      auditId: 'noauth2',
    };
    return {
      token,
      project,
      role,
      caller: new NatsCaller(this.o.nc, project, user, this.o.clock, this.o.ids, this.o.prefix),
    };
  }

  private async callerOf(user: string, project: string): Promise<NatsCaller> {
    if (!this.secure) return new NatsCaller(this.o.nc, project, user, this.o.clock, this.o.ids, this.o.prefix);
    const c = this.connections.get(user);
    if (!c) throw new Error(`no connection for ${user}`); // authenticate opened it
    return new NatsCaller(await c.nc, project, user, this.o.clock, this.o.ids, this.o.prefix);
  }

  /** Secure mode: the NATS server says whether the password is right (a connection as that user opens). */
  private async checkPassword(user: string, password: string): Promise<boolean> {
    const known = this.connections.get(user);
    if (known && known.password === password) {
      try {
        await known.nc;
        return true;
      } catch {
        this.connections.delete(user);
      }
    }
    const nc = connectNats({ servers: [...this.o.secureServers!], name: `api-user-${user}`, user, pass: password });
    try {
      await nc;
    } catch {
      return false;
    }
    if (known) void known.nc.then((old) => old.close()).catch(() => undefined);
    this.connections.set(user, { password, nc });
    return true;
  }

  /** Drops expired tokens, at most once a minute (a walk over every token per authentication would be quadratic). */
  private purge(): void {
    const now = this.o.clock.now();
    if (now - this.purgedAt < 60_000) return;
    this.purgedAt = now;
    for (const [id, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(id);
  }

  async stop(): Promise<void> {
    for (const { nc } of this.connections.values()) await (await nc.catch(() => undefined))?.close();
    this.connections.clear();
  }
}
