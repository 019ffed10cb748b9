/**
 * What every actor shares (README.md): persist-then-act pieces, calls to other services, time and ids, process
 * plumbing. The public face of actors/runtime: other folders import these from here, never a file of it.
 */
// Persistence: fenced logs, compare-and-set, leases, streams and buckets.
export { names, bootstrap, DEFAULT_LEASE_TTL_MS } from './bootstrap.js';
export { FencedLog } from './fenced-log.js';
export { isConflict, type Versioned, writeIfRevision } from './kv-cas.js';
export { Lease } from './lease.js';
// Handling and making requests.
export { startConsumerLoop, type ConsumerLoop, type Outcome } from './consumer-loop.js';
export {
  decodeRequest,
  respondError,
  respondOk,
  respondWithin,
  replyTooLarge,
  serveProjectFamily,
  type Answer,
  type ReplyContext,
  replyEnvelope,
} from './request-reply.js';
export { requestRetried, TRY_AGAIN } from './request-retry.js';
export { CallError, callService } from './call-error.js';
export { HOST_UNAVAILABLE, RemoteHosts } from './remote-hosts.js';
export { type EventPublisher, eventPublisher } from './events.js';
// Time, ids, test hooks.
export { randomIds, systemClock, type Clock, type IdSource, type TimerHandle, sleep, systemRandom } from './clock.js';
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
  CopiesDisagree,
  disagreeingCopies,
  oddServer,
  followerState,
  laggingStreams,
  PeerRemoveRefused,
  removeServer,
  replicaProblems,
  ReplicasNotCurrent,
  streamCopies,
  streamReplicas,
  untilCopiesAgree,
  untilReplicasCurrent,
  type StreamCopy,
  type StreamReplicas,
} from './nats-cluster.js';
export {
  ADMIN_PROJECT,
  credsFile,
  DEMO_PROJECTS,
  ensureCredentials,
  renderAuthorization,
  secureUsers,
} from './secure-config.js';
export { compileRoleContext, type RoleContext, type RoleContextInput } from './context.js';
export {
  integer,
  option,
  DURATION_MS,
  MAX_DURATION_MS,
  SECOND_MS,
  type IntegerRange,
  InvalidOption,
  REPLICAS,
  DEFAULT_REPLICAS,
} from './options.js';
export {
  compileUpOptions,
  DEFAULT_NATS_PORT,
  DEFAULT_UP_DATA,
  DEFAULT_UP_HOSTS,
  UP_HOSTS,
  type CompiledUpOptions,
} from './up-options.js';
export { isTransient } from './transient.js';
