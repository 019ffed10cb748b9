/* eslint-disable no-restricted-globals -- nats-server children live in real time: start timeouts
   and kill grace periods are wall-clock, whatever clock the actors are given. */
/**
 * Runs a nats-server as a child process: the embedded server of `novactor up`, the
 * private servers of the test harness and the nodes of a loopback cluster. Readiness is
 * read from the server's own log line, not guessed with a sleep.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from './project-root.js';

let cachedBin: string | undefined;

/**
 * The nats-server binary. Asks scripts/ensure-nats-server (the one place that knows
 * where to look, and installs Debian's package when it may), once per process.
 */
export function natsServerBin(): string {
  if (cachedBin) return cachedBin;
  const script = join(projectRoot(), 'scripts', 'ensure-nats-server');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = out.trim().split('\n').pop();
  if (!bin) throw new Error('ensure-nats-server printed no path');
  cachedBin = bin;
  return bin;
}

/** A TCP port nobody listens on right now (the OS picks; the race until the server binds is accepted in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ClusterSettings {
  readonly name: string;
  readonly port: number;
  /** Cluster ports of the other nodes. */
  readonly routes: readonly number[];
}

export interface ServerConfig {
  readonly name: string;
  readonly port: number;
  readonly storeDir: string;
  readonly maxPayload?: number;
  readonly cluster?: ClusterSettings;
  /**
   * A system account with user `sys` and this password (cluster maintenance: removing a lost
   * server, nats-cluster.ts). Clients without credentials still land in the global account, as
   * user `nv`, so nothing else changes for them.
   */
  readonly systemPassword?: string;
}

/** The config text of a loopback server (the generator behind the test harness and `nats/cluster-*.conf`). */
export function renderConfig(c: ServerConfig): string {
  const lines = [
    `server_name: ${c.name}`,
    `host: 127.0.0.1`,
    `port: ${c.port}`,
    `max_payload: ${c.maxPayload ?? 1024 * 1024}`,
    `jetstream {`,
    `  store_dir: "${c.storeDir}"`,
    `  max_memory_store: 268435456`,
    `  max_file_store: 10737418240`,
    `}`,
  ];
  if (c.systemPassword !== undefined) {
    lines.push(
      `authorization { users: [ { user: nv, password: nv } ] }`,
      `accounts { SYS: { users: [ { user: sys, password: ${JSON.stringify(c.systemPassword)} } ] } }`,
      `system_account: SYS`,
      `no_auth_user: nv`,
    );
  }
  if (c.cluster) {
    lines.push(
      `cluster {`,
      `  name: ${c.cluster.name}`,
      `  host: 127.0.0.1`,
      `  port: ${c.cluster.port}`,
      `  routes: [${c.cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}]`,
      `}`,
    );
  }
  return lines.join('\n') + '\n';
}

export interface StartOptions {
  /** Config file to run; variables in it are read from `env`. */
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the server's log goes (appended); without it the log is dropped after readiness. */
  readonly logFile?: string;
  readonly readyTimeoutMs?: number;
}

/** A running nats-server child. */
export class NatsServerProcess {
  private exited: Promise<number | null>;
  private constructor(
    readonly child: ChildProcess,
    readonly options: StartOptions,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts the server and resolves once it logs that it is ready (JetStream included). */
  static async start(options: StartOptions): Promise<NatsServerProcess> {
    const child = spawn(natsServerBin(), ['-c', options.configFile], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const server = new NatsServerProcess(child, options);
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          fail(new Error(`nats-server not ready after ${options.readyTimeoutMs ?? 15000} ms:\n${seen.slice(-2000)}`)),
        options.readyTimeoutMs ?? 15000,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(err);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${seen.slice(-2000)}`));
      child.once('error', fail);
      child.once('exit', onExit);
      child.stderr!.on('data', (chunk: Buffer) => {
        log?.write(chunk);
        if (seen.length < 65536) seen += chunk.toString('utf8');
        if (seen.includes('Server is ready')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          child.off('error', fail);
          resolve();
        }
      });
    });
    // Keep draining stderr so the child never blocks on a full pipe.
    child.stderr!.removeAllListeners('data');
    child.stderr!.on('data', (chunk: Buffer) => {
      if (log && !log.writableEnded) log.write(chunk);
    });
    // Its last output can come after the 'exit' event: close the log when the pipe closes.
    child.stderr!.once('close', () => log?.end());
    return server;
  }

  /** Stops the server gracefully (SIGTERM), escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9: no goodbye, no flush beyond what the server already synced. */
  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Writes a generated config for a loopback server under `dir` and returns its path. */
export function writeServerConfig(dir: string, config: ServerConfig): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${config.name}.conf`);
  writeFileSync(file, renderConfig(config));
  return file;
}
