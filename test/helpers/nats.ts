/**
 * Private nats-servers for tests: one per test file (free port, temp store dir,
 * JetStream), or a 3-node loopback cluster; each can be killed with -9 and restarted on
 * the same port and store. Everything is removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../actors/runtime/connection.js';
import { freePort, NatsServerProcess, writeServerConfig, type ServerConfig } from '../../actors/runtime/nats-server.js';
import { projectRoot } from '../../actors/runtime/project-root.js';
import {
  newPassword,
  passwordVariable,
  secureUsers,
  TEMPLATE_LAYOUT,
  type Credentials,
} from '../../actors/runtime/secure-config.js';

export interface TestServer {
  readonly url: string;
  readonly config: ServerConfig;
  readonly dir: string;
  process: NatsServerProcess;
  /** kill -9, as a crash would. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and store (after kill9 or stop). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function launch(dir: string, config: ServerConfig): Promise<TestServer> {
  const configFile = writeServerConfig(dir, config);
  const start = () =>
    NatsServerProcess.start({ configFile, logFile: join(dir, `${config.name}.log`), readyTimeoutMs: 30_000 });
  const server: TestServer = {
    url: `nats://127.0.0.1:${config.port}`,
    config,
    dir,
    process: await start(),
    kill9: () => server.process.kill9(),
    restart: async () => {
      await server.process.stop();
      server.process = await start();
    },
    stop: () => server.process.stop(),
  };
  return server;
}

/** One private JetStream server. Call `stop()` (and `cleanup()`) when the test file ends. */
export async function startNats(): Promise<TestServer & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-nats-'));
  const server = await launch(dir, { name: 'solo', port: await freePort(), storeDir: join(dir, 'js') });
  return Object.assign(server, {
    cleanup: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export interface SecureTestServer extends TestServer {
  /** Credentials by role: admin, gateway, conductor, placement, host-h1…h3, tenant-demo, tenant-other. */
  readonly creds: ReadonlyMap<string, Credentials>;
  cleanup(): Promise<void>;
}

/**
 * A private server in secure mode, run from the repository's own nats.secure.conf (so the
 * documented file is the one tested), with a fresh random password per role.
 */
export async function startSecureNats(): Promise<SecureTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-secure-'));
  const port = await freePort();
  const creds = new Map<string, Credentials>();
  const env: NodeJS.ProcessEnv = { NV_NATS_PORT: String(port), NV_STORE_DIR: join(dir, 'js') };
  for (const u of secureUsers(TEMPLATE_LAYOUT)) {
    const password = newPassword();
    creds.set(u.role, { user: u.user, password });
    env[passwordVariable(u.role)] = password;
  }
  const start = () =>
    NatsServerProcess.start({
      configFile: join(projectRoot(), 'nats.secure.conf'),
      env,
      logFile: join(dir, 'nats-server.log'),
      readyTimeoutMs: 30_000,
    });
  const process = await start().catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const server: SecureTestServer = {
    url: `nats://127.0.0.1:${port}`,
    config: { name: 'secure', port, storeDir: join(dir, 'js') },
    dir,
    process,
    creds,
    kill9: () => server.process.kill9(),
    restart: async () => {
      await server.process.stop();
      server.process = await start();
    },
    stop: () => server.process.stop(),
    cleanup: async () => {
      await server.process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface TestCluster {
  readonly nodes: TestServer[];
  readonly urls: string[];
  cleanup(): Promise<void>;
}

/**
 * A 3-node (or n-node) cluster on loopback, ready for JetStream (meta leader elected), every
 * node running. Free ports are only free when asked: a node whose port another process took
 * meanwhile dies at start (CI once: the others were left running, and the test file never
 * ended), or, its route port taken, just after "Server is ready", leaving a quorum of the
 * others to run the test short of a node. Such a start is stopped and made again on new ports.
 */
export async function startCluster(size = 3): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    const cluster = await startClusterOnce(size);
    if (cluster?.nodes.every((n) => n.process.running)) return cluster;
    await cluster?.cleanup();
    if (attempt === 3) throw new Error(`a ${size}-node cluster did not start whole in 3 attempts`);
  }
}

async function startClusterOnce(size: number): Promise<TestCluster | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-cluster-'));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort() })),
  );
  const configs: ServerConfig[] = ports.map((p, i) => ({
    name: `n${i + 1}`,
    port: p.client,
    storeDir: join(dir, `n${i + 1}`, 'js'),
    cluster: { name: 'novactor-test', port: p.cluster, routes: ports.filter((_, j) => j !== i).map((q) => q.cluster) },
  }));
  const launched = await Promise.allSettled(configs.map((c) => launch(join(dir, c.name), c)));
  const nodes = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const cluster: TestCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    cleanup: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (nodes.length < size) {
    await cluster.cleanup();
    return undefined;
  }
  try {
    await waitForJetStream(cluster.urls);
  } catch (err) {
    await cluster.cleanup(); // never leave servers behind: the test file would not end
    throw err;
  }
  return cluster;
}

/** Waits until JetStream answers account info (a cluster needs its meta leader first). */
export async function waitForJetStream(servers: string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connectNats({ servers, name: 'test-wait' });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`JetStream not available after ${timeoutMs} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Connects a test client (as `auth`'s user, on a secure server); the caller closes it. */
export function connectTo(servers: string | string[], name = 'test', auth?: Credentials): Promise<NatsConnection> {
  return connectNats({ servers, name, ...(auth ? { user: auth.user, pass: auth.password } : {}) });
}
