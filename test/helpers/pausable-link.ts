/**
 * A TCP link between one role's NATS connection and the server that a test can freeze: while
 * paused, nothing goes either way (bytes wait in the sockets), as when the role's process is
 * stopped with SIGSTOP or cut off; resumed, everything flows again and the connection is the
 * same one, so the role never finds out by a reconnect. Used for a compute host that is
 * unreachable without being restarted (test/helpers/cloud.ts, `pausable`).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface PausableLink {
  /** The URL a client connects to instead of the server's. */
  readonly url: string;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startPausableLink(serverUrl: string): Promise<PausableLink> {
  const target = new URL(serverUrl);
  const sockets = new Set<Socket>();
  /** What arrived while paused, per direction, in order. */
  const held: Array<{ to: Socket; data: Buffer }> = [];
  let paused = false;
  const forward = (from: Socket, to: Socket) => {
    sockets.add(from);
    from.on('data', (data: Buffer) => (paused ? held.push({ to, data }) : to.write(data)));
    from.on('close', () => (sockets.delete(from), to.destroy()));
    from.on('error', () => from.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    pause: () => void (paused = true),
    resume: () => {
      paused = false;
      for (const { to, data } of held.splice(0)) if (!to.destroyed) to.write(data);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
