/**
 * Secure mode (docs/security.md): one NATS user per role with subject permissions, and
 * the credentials files `novactor up --secure` hands to each role. The permissions are
 * the first line of defence; the gateway's checks (admin project, subject vs envelope)
 * are the second.
 *
 * Identity on the bus comes from the connection only: a JetStream message does not say
 * who published it. So what a user may do is fixed by where it may publish:
 * - a tenant publishes commands only on `<prefix>.cmd.<its project>.>`, asks only
 *   `<prefix>.query.<its project>.>`, `<prefix>.image.<its project>.>` (and `group`, `net`), reads only
 *   `<prefix>.evt.<its project>.>` (core subscriptions, or JetStream consumers whose filter is inside it), and receives
 *   replies only on its own inbox prefix `_INBOX.<user>`;
 * - admin rights are honoured by the gateway only for commands on the admin project's
 *   subjects (`<prefix>.cmd.admin.>`), which only the admin user may publish;
 * - a compute host consumes only its own work (`<prefix>.host.<host>.>` through its own
 *   durable), serves only its own tracker, rpc and ctl subjects, and calls another host's
 *   tracker or rpc only as itself (`<prefix>.<tracker|rpc>.<other>.from.<host>.>`).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PREFIX, SYSTEM_PROJECT } from '../../protocol/index.js';
import { names } from './bootstrap.js';
import { inboxPrefixOf } from './connection.js';

/** The project whose command subjects carry admin rights in secure mode. */
export const ADMIN_PROJECT = 'admin';

/** The demo tenants `novactor up --secure` creates credentials for (docs/security.md). */
export const DEMO_PROJECTS = ['demo', 'other'] as const;

export interface Permissions {
  readonly publish: { readonly allow: readonly string[]; readonly deny?: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[]; readonly deny?: readonly string[] };
}

export interface SecureUser {
  /** The role, as in `DIR/creds/<role>.json`: admin, gateway, conductor, placement, host-<h>, tenant-<p>. */
  readonly role: string;
  readonly user: string;
  readonly permissions: Permissions | 'all';
}

export interface SecureLayout {
  readonly prefix?: string;
  readonly hosts: readonly string[];
  readonly projects: readonly string[];
}

/**
 * Streams and buckets by name, as the JetStream API subjects spell them. The leader lease
 * bucket is placement's alone (placement has the whole JetStream API): no host reads it.
 */
function jsNames(prefix: string) {
  const n = names(prefix);
  const buckets = Object.values(n.buckets).filter((b) => b !== n.buckets.leases);
  return { streams: n.streams, kvStreams: buckets.map((b) => `KV_${b}`), buckets };
}

/**
 * The control-plane services (gateway, conductor, placement) are trusted with the whole
 * JetStream API (they create streams, buckets and durables, and read streams for audits
 * and queries), and confined to their own subjects: what they serve, and what they send
 * work or requests to. None publishes user commands.
 */
type ServiceRole = 'gateway' | 'conductor' | 'placement';
function service(prefix: string, role: ServiceRole, user: string): Permissions {
  const js = ['$JS.API.>', '$JS.ACK.>', '$JS.FC.>', '$KV.>'];
  const ctl = `${prefix}.ctl.>`; // a process's ctl name is chosen at start (gateway-1, g2…)
  const p = (s: string) => `${prefix}.${s}`;
  const table: Record<ServiceRole, Permissions> = {
    gateway: {
      // rpc.*.consoleLog: a guest's console, read on its host for `instances.consoleLog`;
      // $O.<images>, $O.<disks>: a user's upload, its parts and the image they are joined into.
      publish: {
        allow: [
          ...js,
          `$O.${names(prefix).objectStores.images}.>`,
          `$O.${names(prefix).objectStores.disks}.>`,
          p('evt.>'),
          p('conductor.>'),
          // A user command routed to its instance's host (every host task shares one subject
          // per host, so the gateway, a trusted service, is no longer held to `host.command`
          // by the subject).
          p('host.*.task'),
          p('placement.>'),
          p('rpc.*.consoleLog'),
        ],
      },
      subscribe: {
        allow: [
          `${inboxPrefixOf(user)}.>`,
          p('query.>'),
          p('admin.>'),
          p('image.>'),
          p('group.>'),
          p('net.>'),
          p('volume.>'),
          ctl,
        ],
      },
    },
    conductor: {
      // $O.<images>: a shelved_offloaded instance's delete removes its image's bytes.
      publish: {
        allow: [
          ...js,
          `$O.${names(prefix).objectStores.images}.>`,
          p('evt.>'),
          p('conductor.>'),
          p('host.>'),
          p('placement.>'),
          p('tracker.>'),
          p('rpc.>'),
        ],
      },
      subscribe: { allow: [`${inboxPrefixOf(user)}.>`, ctl] },
    },
    placement: {
      publish: { allow: [...js, '$O.>', names(prefix).placementLogSubject, p(`evt.${SYSTEM_PROJECT}.>`)] },
      subscribe: { allow: [`${inboxPrefixOf(user)}.>`, p('placement.>'), ctl] },
    },
  };
  // Cluster membership is the operator's: nats-server 2.9 answers `$JS.API.SERVER.REMOVE` from
  // any account, so a service could otherwise remove a server from the cluster.
  const r = table[role];
  return { ...r, publish: { ...r.publish, deny: ['$JS.API.SERVER.>'] } };
}

/**
 * A compute host: its own durable on the host stream, its own tracker/rpc/ctl subjects,
 * the buckets (instance records are one bucket: see docs/security.md), and requests to
 * placement, and other hosts' trackers and rpc (moves cross hosts) in its own name only.
 */
function computeHost(prefix: string, host: string, user: string): Permissions {
  const j = jsNames(prefix);
  const n = names(prefix);
  const durable = `host-${host}`;
  const kv = j.kvStreams.flatMap((k) => [
    `$JS.API.CONSUMER.CREATE.${k}`,
    `$JS.API.CONSUMER.CREATE.${k}.>`,
    `$JS.API.CONSUMER.INFO.${k}.*`,
    `$JS.API.CONSUMER.DELETE.${k}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${k}.*`,
  ]);
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        '$JS.API.STREAM.INFO.*',
        '$JS.API.DIRECT.GET.>',
        '$JS.API.STREAM.MSG.GET.*',
        `$JS.API.CONSUMER.CREATE.${j.streams.host}.${durable}.${prefix}.host.${host}.>`,
        `$JS.API.CONSUMER.INFO.${j.streams.host}.${durable}`,
        // An older version's durable, whose filter `nv.host.<host>.>` is replaced once drained.
        `$JS.API.CONSUMER.DELETE.${j.streams.host}.${durable}`,
        `$JS.API.CONSUMER.MSG.NEXT.${j.streams.host}.${durable}`,
        `$JS.ACK.${j.streams.host}.${durable}.>`,
        ...kv,
        // The disks a resize or cold migration carries (actors/compute/disk-carry.ts) and the
        // images' bytes (snapshots, shelved images: actors/compute/image-store.ts): put,
        // read and deleted by hosts.
        ...[n.objectStores.disks, n.objectStores.images].flatMap((o) => [
          `$O.${o}.>`,
          `$JS.API.STREAM.PURGE.OBJ_${o}`,
          `$JS.API.CONSUMER.CREATE.OBJ_${o}`,
          `$JS.API.CONSUMER.CREATE.OBJ_${o}.>`,
          `$JS.API.CONSUMER.INFO.OBJ_${o}.*`,
          `$JS.API.CONSUMER.DELETE.OBJ_${o}.*`,
          `$JS.API.CONSUMER.MSG.NEXT.OBJ_${o}.*`,
        ]),
        '$JS.FC.>',
        // Writes only to the buckets a host keeps: not flavors, quotas or operator switches. Ports
        // and their address claims: the build's network step makes, binds and releases them.
        // Volumes: a host reserves, completes and releases its instances' attachments (docs/volumes.md).
        ...[
          n.buckets.instances,
          n.buckets.migrations,
          n.buckets.services,
          n.buckets.images,
          n.buckets.ports,
          n.buckets.ipam,
          n.buckets.volumes,
        ].map((b) => `$KV.${b}.>`),
        `${prefix}.evt.>`,
        `${prefix}.conductor.>`,
        `${prefix}.host.*.*`,
        // Other hosts' trackers and rpc only under its own name: the callee reads the caller
        // from the subject (`<prefix>.rpc.<callee>.from.<caller>.<op>`, the same for
        // trackers) and checks the call against the records.
        `${prefix}.tracker.*.from.${host}.>`,
        `${prefix}.rpc.*.from.${host}.>`,
        `${prefix}.placement.>`,
      ],
    },
    subscribe: {
      allow: [
        `${inboxPrefixOf(user)}.>`,
        `${prefix}.tracker.${host}.>`,
        `${prefix}.rpc.${host}.>`,
        `${prefix}.ctl.compute-${host}.>`,
      ],
    },
  };
}

/**
 * A tenant: commands and queries of its project, its project's events (a core
 * subscription, or an ephemeral JetStream consumer filtered inside them), nothing else.
 * Consumer names are random (nuid), and listing them is not allowed, so the pull and
 * delete permissions on `<stream>.*` do not reach another tenant's consumer.
 */
function tenant(prefix: string, project: string, user: string): Permissions {
  const evt = jsNames(prefix).streams.evt;
  return {
    publish: {
      allow: [
        `${prefix}.cmd.${project}.>`,
        `${prefix}.query.${project}.>`,
        `${prefix}.image.${project}.>`,
        `${prefix}.group.${project}.>`,
        `${prefix}.net.${project}.>`,
        `${prefix}.volume.${project}.>`,
        `$JS.API.CONSUMER.CREATE.${evt}.*.${prefix}.evt.${project}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${evt}.*`,
        `$JS.API.CONSUMER.INFO.${evt}.*`,
        `$JS.API.CONSUMER.DELETE.${evt}.*`,
      ],
    },
    subscribe: { allow: [`${inboxPrefixOf(user)}.>`, `${prefix}.evt.${project}.>`] },
  };
}

/** Every user of a secure deployment, with its permissions. */
export function secureUsers(layout: SecureLayout): SecureUser[] {
  const prefix = layout.prefix ?? DEFAULT_PREFIX;
  const users: SecureUser[] = [
    { role: 'admin', user: 'admin', permissions: 'all' },
    { role: 'gateway', user: 'gateway', permissions: service(prefix, 'gateway', 'gateway') },
    { role: 'conductor', user: 'conductor', permissions: service(prefix, 'conductor', 'conductor') },
    { role: 'placement', user: 'placement', permissions: service(prefix, 'placement', 'placement') },
  ];
  for (const h of layout.hosts)
    users.push({ role: `host-${h}`, user: `host-${h}`, permissions: computeHost(prefix, h, `host-${h}`) });
  for (const p of layout.projects) {
    if (p === ADMIN_PROJECT) throw new Error(`project ${ADMIN_PROJECT} is reserved for the operator`);
    users.push({ role: `tenant-${p}`, user: `tenant-${p}`, permissions: tenant(prefix, p, `tenant-${p}`) });
  }
  return users;
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;

/**
 * The `authorization { users = [...] }` block of a nats-server config. `password(role)`
 * returns what stands after `password:` — a quoted secret, or a `$VARIABLE` that the
 * server reads from its environment (nats.secure.conf).
 */
export function renderAuthorization(users: readonly SecureUser[], password: (role: string) => string): string {
  const lines = ['authorization {', '  users = ['];
  for (const u of users) {
    const head = `    { user: ${q(u.user)}, password: ${password(u.role)}`;
    if (u.permissions === 'all') {
      lines.push(`${head} }`);
      continue;
    }
    const p = u.permissions;
    const side = (s: { allow: readonly string[]; deny?: readonly string[] | undefined }) =>
      `{ allow: ${list(s.allow)}${s.deny ? `, deny: ${list(s.deny)}` : ''} }`;
    // allow_responses: a service may answer the requests it received, on any reply subject.
    lines.push(
      `${head}, permissions: {`,
      `        publish: ${side(p.publish)}`,
      `        subscribe: ${side(p.subscribe)}`,
      `        allow_responses: true`,
      `      } }`,
    );
  }
  lines.push('  ]', '}');
  return lines.join('\n') + '\n';
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/**
 * A new random password: a letter, then 31 letters and digits (about 185 bits). nats-server
 * parses a `$VARIABLE`'s value as config, so a password read from the environment
 * (nats.secure.conf) must not look like a number, a boolean or anything but a plain word.
 */
export function newPassword(): string {
  const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(64);
  let out = 'p';
  for (const b of bytes) {
    if (b >= 248) continue; // 248 = 4 * 62: keep the draw uniform
    out += ALNUM[b % 62];
    if (out.length === 32) break;
  }
  return out.length === 32 ? out : newPassword();
}

/** The credentials file of a role. */
export const credsFile = (dir: string, role: string) => join(dir, 'creds', `${role}.json`);

/**
 * Writes (or keeps) one credentials file per user, mode 0600, and returns them by role.
 * An existing file is kept, so clients holding it still connect after a restart; delete
 * `DIR/creds` to rotate every password (docs/security.md).
 */
export function ensureCredentials(dir: string, users: readonly SecureUser[]): Map<string, Credentials> {
  mkdirSync(join(dir, 'creds'), { recursive: true, mode: 0o700 });
  const out = new Map<string, Credentials>();
  for (const u of users) {
    const file = credsFile(dir, u.role);
    let c: Credentials | undefined;
    if (existsSync(file)) {
      const old = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
      if (old.user === u.user && typeof old.password === 'string' && old.password.length > 0)
        c = { user: u.user, password: old.password };
    }
    c ??= { user: u.user, password: newPassword() };
    writeFileSync(file, JSON.stringify(c) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    out.set(u.role, c);
  }
  return out;
}

/** The environment variable nats.secure.conf reads a role's password from. */
export const passwordVariable = (role: string) => `NV_PASSWORD_${role.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The hosts and projects nats.secure.conf is written for (edit the file for yours). */
export const TEMPLATE_LAYOUT: SecureLayout = { hosts: ['h1', 'h2', 'h3'], projects: [...DEMO_PROJECTS] };

/**
 * nats.secure.conf: nats.conf plus the users of `layout`, each password read from the
 * server's environment (`NV_PASSWORD_<ROLE>`), so the file itself holds no secret.
 */
export function secureTemplate(layout: SecureLayout = TEMPLATE_LAYOUT): string {
  const users = secureUsers(layout);
  const header = [
    '# novactor with per-role users and subject permissions (docs/security.md). Generated by',
    '# secureTemplate() in actors/runtime/secure-config.ts for hosts ' +
      layout.hosts.join(', ') +
      ' and projects ' +
      layout.projects.join(', ') +
      ';',
    '# a test keeps it equal to that. Each password comes from the environment (the server',
    '# parses its value as config: use a letter followed by letters and digits only):',
    ...users.map((u) => `#   ${passwordVariable(u.role).padEnd(28)} ${u.user}`),
    '# For more hosts or projects, add users in the same shape (host-<h>, tenant-<p>); the',
    '# project "admin" is the operator\'s and must not be given to a tenant. Every client',
    '# must use the inbox prefix _INBOX.<user> (novactor does, when given --creds).',
    '# Beyond loopback, also turn on TLS (tls { cert_file, key_file }) so passwords do not',
    '# cross the network in clear, and prefer bcrypt hashes (`nats server passwd`) or NKEYs.',
    '',
    'include ./nats.conf',
    '',
  ];
  return header.join('\n') + renderAuthorization(users, (role) => `$${passwordVariable(role)}`);
}
