/**
 * `novactor demo`: a short tour of a running cloud through the public protocol only
 * (docs/protocol.md §6, §7). Boots three m1.tiny instances, prints each guest's console line
 * (a driver that keeps a console: libvirt), stops and starts one, reboots another, deletes
 * them all, printing every lifecycle event as it arrives, then a summary.
 * Exits 0 when every command reached its success event.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { jetstream, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  COMMAND_REJECTED,
  commandType,
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  MessageKind,
  queryType,
  subjects,
  TERMINAL_SUCCESS,
  type Envelope,
  type InstanceAction,
} from '../../protocol/index.js';
import { openFilteredConsumer } from '../client/events.js';
import { connectFor, intFlag, withServerOptions, type ServerOptions } from '../options.js';
import { failureOf } from '../failure.js';

/** The longest wait for one command of the tour. */
const DEFAULT_DEMO_TIMEOUT_MS = 60_000;

interface DemoOptions extends ServerOptions {
  project: string;
  user: string;
  flavor: string;
  timeout: string;
}

interface Outcome {
  readonly instance: string;
  readonly action: InstanceAction;
  readonly event: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail?: string;
}

export function registerDemo(program: Command): void {
  withServerOptions(
    program
      .command('demo')
      .description('boot, stop, start, reboot and delete a few instances on a running cloud, printing every event')
      .option('--project <p>', 'project to act in', 'demo')
      .option('--user <u>', 'user in the command envelopes', 'alice')
      .option('--flavor <f>', 'flavor of the instances', 'm1.tiny')
      .option('--timeout <ms>', 'longest wait for one command', String(DEFAULT_DEMO_TIMEOUT_MS)),
  ).action(async (o: DemoOptions) => {
    let nc: NatsConnection | undefined;
    try {
      const timeoutMs = intFlag('--timeout', o.timeout, 1000, 3_600_000);
      nc = await connectFor(o, 'novactor-demo');
      const outcomes = await runDemo(nc, { project: o.project, user: o.user, flavor: o.flavor, timeoutMs });
      printSummary(outcomes);
      await nc.drain();
      process.exit(outcomes.every((x) => x.ok) ? 0 : 1);
    } catch (err) {
      const f = failureOf(err);
      process.stderr.write(`novactor demo: ${f.line}\n`);
      await nc?.close().catch(() => undefined);
      process.exit(f.code);
    }
  });
}

interface DemoSettings {
  readonly project: string;
  readonly user: string;
  readonly flavor: string;
  readonly timeoutMs: number;
}

/** Runs the tour; resolves with one outcome per command sent. */
export async function runDemo(nc: NatsConnection, o: DemoSettings): Promise<Outcome[]> {
  const client = new DemoClient(nc, o);
  await client.listen();
  const names = ['demo-1', 'demo-2', 'demo-3'];
  const ids = new Map(names.map((n) => [n, randomUUID()]));
  const id = (name: string) => ids.get(name)!;
  const outcomes: Outcome[] = [];
  const step = async (name: string, action: InstanceAction, body: Record<string, unknown> = {}) => {
    const outcome = await client.run(name, id(name), action, body);
    outcomes.push(outcome);
    return outcome;
  };
  try {
    say(`booting ${names.join(', ')} (${o.flavor}) in project ${o.project}`);
    // One after the other, so that each boot sees the claims of the one before (spread).
    const booted: Outcome[] = [];
    for (const n of names) booted.push(await step(n, 'boot', { name: n, flavor: o.flavor }));
    for (const b of booted) if (b.ok) await client.showConsole(b.instance, id(b.instance));
    if (booted.every((b) => b.ok)) {
      await step('demo-1', 'stop');
      await step('demo-1', 'start');
      await step('demo-2', 'reboot', { type: 'SOFT' });
    } else say('a boot failed: skipping the power operations');
    say('deleting every instance');
    await Promise.all(
      names
        .filter((n) => booted.find((b) => b.instance === n)?.event !== COMMAND_REJECTED)
        .map((n) => step(n, 'delete')),
    );
  } finally {
    await client.close();
  }
  return outcomes;
}

/** Publishes commands and follows `nv.evt.<project>.>`, printing each event once. */
class DemoClient {
  private readonly js: JetStreamClient;
  private readonly s = subjects();
  private messages: ConsumerMessages | undefined;
  private readonly names = new Map<string, string>();
  private readonly waiters = new Map<string, (e: Envelope) => void>();
  private readonly seen = new Set<string>();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: DemoSettings,
  ) {
    this.js = jetstream(nc);
  }

  /** Starts reading events: before the first command, so none is missed (§6.3 step 2). */
  async listen(): Promise<void> {
    const consumer = await openFilteredConsumer(this.nc, this.js, 'NV_EVT', this.s.evtProject(this.o.project));
    const messages = await consumer.consume();
    this.messages = messages;
    this.loop = (async () => {
      for await (const m of messages) {
        const r = decodeMessage(m.data, MessageKind.Event);
        if (!r.ok) continue;
        this.onEvent(r.value);
      }
    })();
  }

  /** Sends one command and waits for its terminal event. */
  async run(name: string, instanceId: string, action: InstanceAction, body: Record<string, unknown>): Promise<Outcome> {
    this.names.set(instanceId, name);
    const id = randomUUID();
    const started = Date.now();
    const terminal = new Promise<Envelope>((resolve) => this.waiters.set(id, resolve));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), this.o.timeoutMs)),
    );
    const env = envelope({
      id,
      type: commandType(action),
      ts: Date.now(),
      project: this.o.project,
      user: this.o.user,
      body,
    });
    say(`${name}: ${action}${action === 'reboot' ? ` ${String(body['type'])}` : ''}`);
    await this.js.publish(this.s.cmd(this.o.project, instanceId, action), encodeMessage(env), { msgID: id });
    const e = await Promise.race([terminal, timeout]);
    clearTimeout(timer);
    this.waiters.delete(id);
    const ms = Date.now() - started;
    if (!e)
      return {
        instance: name,
        action,
        event: 'timeout',
        ok: false,
        ms,
        detail: `no terminal event within ${this.o.timeoutMs} ms`,
      };
    const fault = (e.body['fault'] ?? (e.type === COMMAND_REJECTED ? e.body : undefined)) as
      { code?: string; message?: string } | undefined;
    const ok = e.type === TERMINAL_SUCCESS[action];
    return {
      instance: name,
      action,
      event: e.type,
      ok,
      ms,
      ...(fault && !ok ? { detail: `${fault.code}: ${fault.message}` } : {}),
    };
  }

  /**
   * The guest's console line (`instances.consoleLog`, §8.2), asked a few times: a guest prints
   * it a moment after it is running. A driver that keeps no console says so once.
   */
  async showConsole(name: string, instanceId: string): Promise<void> {
    if (this.noConsole) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const req = envelope({
        id: randomUUID(),
        type: queryType('instances.consoleLog'),
        ts: Date.now(),
        project: this.o.project,
        user: this.o.user,
        body: { instanceId, length: 1 },
      });
      const reply = await this.nc
        .request(this.s.query(this.o.project, 'instances.consoleLog'), encodeMessage(req), { timeout: 5000 })
        .then((m) => decodeMessage(m.data, MessageKind.Reply))
        .catch(() => undefined);
      const body = reply?.ok ? reply.value.body : undefined;
      if (reply?.ok && reply.value.type === ERROR_TYPE) {
        if (body?.['code'] === 'ConsoleNotAvailable') {
          this.noConsole = true;
          say('(the hosts keep no guest console: `novactor up --driver libvirt` boots real guests)');
          return;
        }
      } else {
        const line = String(body?.['output'] ?? '').trim();
        if (line) return say(`${name} console: ${line}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    say(`${name} console: nothing yet`);
  }

  private noConsole = false;

  async close(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private onEvent(e: Envelope): void {
    if (this.seen.has(e.id)) return; // §7.5: an event may arrive twice
    this.seen.add(e.id);
    const b = e.body;
    const instanceId = String(b['instanceId'] ?? '');
    if (!this.names.has(instanceId)) return; // another client's instance
    const name = this.names.get(instanceId)!;
    const state =
      e.type === COMMAND_REJECTED
        ? `${String(b['code'])}: ${String(b['message'])}`
        : `vm=${String(b['vmState'])} task=${String(b['taskState'] ?? '-')} power=${String(b['powerState'])} host=${String(b['host'] ?? '-')}`;
    // A record in ERROR keeps its fault on later events: show it where it happened only.
    const fault = e.type.endsWith('.error') ? (b['fault'] as { code: string; message: string } | undefined) : undefined;
    process.stdout.write(
      `${clock(e.ts)}  ${name.padEnd(7)} ${e.type.padEnd(28)} ${state}${fault ? `  fault ${fault.code}: ${fault.message}` : ''}${b['final'] === true ? '  (final)' : ''}\n`,
    );
    if (b['final'] === true && e.corr !== undefined) this.waiters.get(e.corr)?.(e);
  }
}

function printSummary(outcomes: readonly Outcome[]): void {
  const ok = outcomes.filter((x) => x.ok).length;
  say(`summary: ${ok} of ${outcomes.length} commands succeeded`);
  for (const x of outcomes) {
    process.stdout.write(
      `  ${x.ok ? 'ok  ' : 'FAIL'}  ${x.instance.padEnd(7)} ${x.action.padEnd(7)} → ${x.event} in ${x.ms} ms${x.detail ? ` (${x.detail})` : ''}\n`,
    );
  }
}

function say(line: string): void {
  process.stdout.write(`-- ${line}\n`);
}

function clock(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
