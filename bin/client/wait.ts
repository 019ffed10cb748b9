/**
 * Sending one instance command and, with --wait, following it to its terminal event:
 * the one machinery behind every mutating CLI command (docs/protocol.md §6.3).
 */
import { randomUUID } from 'node:crypto';
import { commandType, encodeMessage, envelope, type Envelope, type InstanceAction } from '../../protocol/index.js';
import { faultOf, isSuccess, openEventFeed, progressLine, stateOf, type EventFeed } from './events.js';
import { CallError, WaitTimeout, type ClientSession } from './session.js';

/** How long `--wait` follows a command before giving up (the `--timeout` flag, in seconds). */
export const DEFAULT_WAIT_TIMEOUT_MS = 120_000;

export interface CommandRun {
  readonly instanceId: string;
  readonly action: InstanceAction;
  readonly body: Record<string, unknown>;
  readonly wait: boolean;
  readonly timeoutMs: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Publishes the command (JetStream, Nats-Msg-Id = command id) and returns the exit code:
 * 0 when sent (or, with wait, when it ended in its success event), 1 when it was rejected
 * or failed. A wait that outlasts the timeout throws WaitTimeout.
 */
export async function sendCommand(c: ClientSession, run: CommandRun): Promise<number> {
  const commandId = randomUUID();
  // Listen before publishing, so that no event of this command can be missed.
  // Within the wait's own time limit even while the cluster elects leaders.
  const feed = run.wait
    ? await openEventFeed(c, c.s.evtInstance(c.project, run.instanceId), undefined, Math.min(run.timeoutMs, 30_000))
    : undefined;
  try {
    const env = envelope({
      id: commandId,
      type: commandType(run.action),
      ts: Date.now(),
      project: c.project,
      user: c.user,
      body: run.body,
    });
    await publishCommand(
      c,
      c.s.cmd(c.project, run.instanceId, run.action),
      encodeMessage(env),
      commandId,
      Math.min(run.timeoutMs, 30_000),
    );
    if (!feed) {
      process.stdout.write(
        c.json
          ? JSON.stringify({ instanceId: run.instanceId, commandId, action: run.action }) + '\n'
          : `instance ${run.instanceId}\ncommand ${commandId}\n`,
      );
      return 0;
    }
    if (!c.json) process.stdout.write(`instance ${run.instanceId}\ncommand ${commandId}\n`);
    const terminal = await untilTerminal(feed, commandId, run, c.json);
    return report(c, run, commandId, terminal);
  } finally {
    feed?.stop();
  }
}

/**
 * Publishes with the command id as Nats-Msg-Id, retrying for up to `patienceMs` while no
 * PubAck comes (a cluster electing leaders after a node was lost answers "jetstream is not
 * enabled" or nothing for a few seconds): the stream's dedup makes a retry of a command
 * already stored a no-op, so the command is never sent twice.
 */
async function publishCommand(
  c: ClientSession,
  subject: string,
  data: Uint8Array,
  commandId: string,
  patienceMs: number,
): Promise<void> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await c.js.publish(subject, data, { msgID: commandId });
      return;
    } catch (err) {
      if (Date.now() >= deadline) {
        // No PubAck: the command was not stored (docs/protocol.md §6.4); it is safe to run it again.
        throw new CallError(
          503,
          'ServiceUnavailable',
          `the command was not stored (${err instanceof Error ? err.message : String(err)}); nothing was done, run it again`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 250 * 2 ** attempt)));
    }
  }
}

async function untilTerminal(feed: EventFeed, commandId: string, run: CommandRun, quiet: boolean): Promise<Envelope> {
  const tty = !quiet && process.stdout.isTTY === true;
  const started = Date.now();
  let last = 'waiting for the first event';
  let frame = 0;
  const spin = tty
    ? setInterval(
        () =>
          process.stdout.write(
            `\r\x1b[K${SPINNER[frame++ % SPINNER.length]} ${last}  ${((Date.now() - started) / 1000).toFixed(1)}s`,
          ),
        100,
      )
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      feed.stop();
      reject(
        new WaitTimeout(
          `no outcome for ${run.action} of instance ${run.instanceId} (command ${commandId}) within ${run.timeoutMs / 1000}s; it may still complete: see \`novactor show ${run.instanceId}\``,
        ),
      );
    }, run.timeoutMs);
  });
  const follow = async (): Promise<Envelope> => {
    for await (const e of feed) {
      if (e.corr !== commandId) continue;
      last = progressLine(e);
      if (!quiet && !tty) process.stdout.write(last + '\n');
      if (e.body['final'] === true) return e;
    }
    throw new WaitTimeout(`the event feed closed before command ${commandId} ended`);
  };
  try {
    return await Promise.race([follow(), timeout]);
  } finally {
    clearTimeout(timer);
    if (spin) {
      clearInterval(spin);
      process.stdout.write('\r\x1b[K');
    }
  }
}

function report(c: ClientSession, run: CommandRun, commandId: string, e: Envelope): number {
  const ok = isSuccess(e);
  if (c.json) {
    process.stdout.write(
      JSON.stringify({ instanceId: run.instanceId, commandId, action: run.action, ok, event: e }) + '\n',
    );
  } else if (ok) {
    process.stdout.write(
      `${e.type}: instance ${run.instanceId} is ${String(e.body['vmState']).toUpperCase()} (${stateOf(e)})${e.body['host'] ? ` on ${String(e.body['host'])}` : ''}\n`,
    );
  } else {
    process.stderr.write(`novactor: ${e.type}: ${faultOf(e) ?? 'failed'}\n`);
  }
  return ok ? 0 : 1;
}
