/** A gateway's options and their defaults (`novactor gateway` flags and tests both go through here). */
import { DEFAULT_QUOTA, type QuotaRecord } from '../../protocol/index.js';
import { join, resolve } from 'node:path';
import {
  compileRoleContext,
  DEFAULT_UP_DATA,
  type RoleContext,
  type RoleContextInput,
  integer,
  option,
} from '../runtime/index.js';

/** Where volumes' files live unless told: beside `novactor up`'s data (`.novactor/volumes`). */
export const DEFAULT_VOLUME_DIR = join(DEFAULT_UP_DATA, 'volumes');

/** Envelope users treated as admins (until per-role credentials bind identity). */
export const DEFAULT_ADMIN_USERS: readonly string[] = ['admin'];
/** Commands of one project handled at once: 16 of the gateway's 64 slots, so one busy project cannot take all. */
export const DEFAULT_MAX_IN_FLIGHT_PER_PROJECT = 16;
export const MAX_IN_FLIGHT_PER_PROJECT = integer(1, 64);
/** A project's quota with no `nv-quotas` record: 10 instances, 20 cores, 51200 MiB. */
export { DEFAULT_QUOTA };
/** -1 = unlimited. */
export const QUOTA_LIMITS = { instances: integer(-1, 1e9), cores: integer(-1, 1e9), ramMb: integer(-1, 1e12) } as const;

export interface GatewayOptions extends RoleContextInput {
  readonly prefix?: string;
  readonly adminUsers?: readonly string[];
  /**
   * Secure mode: admin rights only for commands and admin requests of this project, whose
   * subjects only the admin NATS user may publish (docs/security.md). The envelope's user
   * alone proves nothing: any client can write any name there.
   */
  readonly adminProject?: string;
  readonly maxInFlightPerProject?: number;
  /** Quota of a project with no `nv-quotas` record; absent fields are DEFAULT_QUOTA's. */
  readonly defaultQuota?: Partial<QuotaRecord>;
  /** The volume store's directory (docs/volumes.md); default DEFAULT_VOLUME_DIR, relative to the working directory. */
  readonly volumeDir?: string;
}

export interface CompiledGatewayOptions extends RoleContext {
  readonly prefix: string;
  readonly adminUsers: readonly string[];
  readonly adminProject?: string;
  readonly maxInFlightPerProject: number;
  readonly defaultQuota: QuotaRecord;
  readonly volumeDir: string;
}

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compileGatewayOptions(o: GatewayOptions): CompiledGatewayOptions {
  const q = o.defaultQuota ?? {};
  return {
    ...compileRoleContext(o),
    prefix: o.prefix ?? 'nv',
    volumeDir: resolve(o.volumeDir ?? DEFAULT_VOLUME_DIR),
    adminUsers: o.adminUsers ?? DEFAULT_ADMIN_USERS,
    ...(o.adminProject !== undefined ? { adminProject: o.adminProject } : {}),
    maxInFlightPerProject: option(
      'maxInFlightPerProject',
      o.maxInFlightPerProject,
      DEFAULT_MAX_IN_FLIGHT_PER_PROJECT,
      MAX_IN_FLIGHT_PER_PROJECT,
    ),
    defaultQuota: {
      instances: option('defaultQuota.instances', q.instances, DEFAULT_QUOTA.instances, QUOTA_LIMITS.instances),
      cores: option('defaultQuota.cores', q.cores, DEFAULT_QUOTA.cores, QUOTA_LIMITS.cores),
      ramMb: option('defaultQuota.ramMb', q.ramMb, DEFAULT_QUOTA.ramMb, QUOTA_LIMITS.ramMb),
    },
  };
}
