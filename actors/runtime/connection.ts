import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import './nats-request-patch.js'; // one Error less per request (see there)
import './nats-write-patch.js'; // one socket write per turn of the event loop (see there)

/** The inbox prefix of a user: replies to its requests arrive only there. */
export const inboxPrefixOf = (user: string) => `_INBOX.${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export interface ConnectOptions {
  readonly servers: string | string[];
  /** Shows in the server's connection list: role and host, e.g. `compute-h1`. */
  readonly name: string;
  readonly user?: string;
  readonly pass?: string;
}

/**
 * Connects and keeps reconnecting forever: a service outlives a NATS node restart, and
 * JetStream redelivers whatever was not acked meanwhile.
 */
export async function connectNats(o: ConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: o.servers,
    name: o.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // nats.js otherwise builds two Error objects per request just to keep async stack
    // traces: a third of a busy client's CPU. Our errors carry their own context.
    noAsyncTraces: true,
    // With credentials, replies come to the user's own inbox prefix: in secure mode a user
    // may subscribe only there (docs/security.md), so nobody reads another's replies.
    ...(o.user !== undefined ? { user: o.user, pass: o.pass ?? '', inboxPrefix: inboxPrefixOf(o.user) } : {}),
  });
}
