/**
 * What every actor shares (README.md): persist-then-act pieces, calls to other services, time and ids, process
 * plumbing. The public face of actors/runtime: other folders import these from here, never a file of it.
 */
// Persistence: fenced logs, compare-and-set, leases, streams and buckets.
export { names, bootstrap } from './bootstrap.js';
export { FencedLog } from './fenced-log.js';
export { type Versioned, writeIfRevision } from './kv-cas.js';
export { Lease } from './lease.js';
// Handling and making requests.
export { startConsumerLoop, type ConsumerLoop, type Outcome } from './consumer-loop.js';
export { decodeRequest, respondError, respondOk, type ReplyContext, replyEnvelope } from './request-reply.js';
export { requestRetried, TRY_AGAIN } from './request-retry.js';
export { CallError } from './call-error.js';
export { RemoteHosts } from './remote-hosts.js';
export { type EventPublisher, eventPublisher } from './events.js';
// Time, ids, test hooks.
export { randomIds, systemClock, type Clock, type IdSource } from './clock.js';
export { periodic } from './periodic.js';
export { type KillPoint } from './kill-points.js';
// Processes: actors under a supervisor, connections, logs, the roles and nats-server children of `novactor up`.
export { type ActorSpec, Supervisor, type Actor } from './supervisor.js';
export { Lifecycle, stopOnSignals } from './lifecycle.js';
export { connectNats } from './connection.js';
export { createLogger, logLine } from './logger.js';
export { projectRoot } from './project-root.js';
export { rolesOf, type RoleLaunch } from './cloud-roles.js';
export { RoleProcess } from './role-processes.js';
export { freePort, NatsServerProcess, writeServerConfig, natsServerBin, type ServerConfig } from './nats-server.js';
export {
  ADMIN_PROJECT,
  credsFile,
  DEMO_PROJECTS,
  ensureCredentials,
  renderAuthorization,
  secureUsers,
} from './secure-config.js';
