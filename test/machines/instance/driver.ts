/** Drives the instance machine through xstate's pure API and collects the returned actions. */
import type { ExecutionContext } from 'ava';
import { initialTransition, transition } from 'xstate';
import {
  inFlightStep,
  instanceMachine,
  toRecord,
  type CommandEvent,
  type InstanceEffect,
  type InstanceEvent,
  type InstanceInput,
  type InstanceSnapshot,
  type NotifyParams,
  type StepError,
  type StepName,
} from '../../../machines/instance/index.js';
import type { InstanceAction, VmState } from '../../../protocol/schemas/instance.js';

export const FLAVOR = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };

export function input(over: Partial<InstanceInput> = {}): InstanceInput {
  return {
    record: {
      instanceId: 'i-1',
      name: 'vm1',
      project: 'demo',
      user: 'alice',
      host: 'h1',
      node: 'h1',
      flavor: FLAVOR,
      image: 'cirros',
      createdAt: 1000,
    },
    bootId: 'boot-1',
    ts: 1000,
    ...over,
  };
}

/** Keeps only what the actor layer would execute: runStep and notify, with params. */
export function effects(actions: readonly { type: string; params?: unknown }[]): InstanceEffect[] {
  return actions
    .filter((a) => a.type === 'runStep' || a.type === 'notify')
    .map((a) => ({ type: a.type, params: a.params }) as InstanceEffect);
}

export class Run {
  snap: InstanceSnapshot;
  /** Every effect since the start, in order. */
  readonly log: InstanceEffect[] = [];
  last: InstanceEffect[];
  ts = 1000;
  private n = 0;

  constructor(inp: InstanceInput = input()) {
    const [s, a] = initialTransition(instanceMachine, inp);
    this.snap = s;
    this.last = effects(a);
    this.log.push(...this.last);
  }

  send(event: InstanceEvent): InstanceEffect[] {
    const [s, a] = transition(instanceMachine, this.snap, event);
    this.snap = s;
    this.last = effects(a);
    this.log.push(...this.last);
    return this.last;
  }

  cmd(
    action: InstanceAction,
    body: Record<string, unknown> = {},
    opts: { id?: string; isAdmin?: boolean } = {},
  ): InstanceEffect[] {
    const ev: CommandEvent = {
      type: 'COMMAND',
      ts: ++this.ts,
      id: opts.id ?? `c${++this.n}`,
      action,
      body,
      user: 'alice',
      isAdmin: opts.isAdmin ?? false,
    };
    return this.send(ev);
  }

  /** Completes the in-flight step (or fails it with `error`). */
  step(error?: StepError): InstanceEffect[] {
    const f = inFlightStep(this.snap);
    if (f === undefined) throw new Error(`no step in flight in ${JSON.stringify(this.snap.value)}`);
    return this.send(
      error
        ? { type: 'STEP_FAILED', ts: ++this.ts, step: f.step, key: f.key, error }
        : { type: 'STEP_DONE', ts: ++this.ts, step: f.step, key: f.key },
    );
  }

  /** Completes steps until none is in flight; returns the steps completed. */
  settle(): StepName[] {
    const done: StepName[] = [];
    for (let f = inFlightStep(this.snap); f !== undefined; f = inFlightStep(this.snap)) {
      done.push(f.step);
      this.step();
      if (done.length > 50) throw new Error('runaway');
    }
    return done;
  }

  get rec() {
    return toRecord(this.snap);
  }
  get value(): string {
    return JSON.stringify(this.snap.value);
  }
}

export const steps = (es: readonly InstanceEffect[]): StepName[] =>
  es.flatMap((e) => (e.type === 'runStep' ? [e.params.step] : []));
export const notes = (es: readonly InstanceEffect[]): NotifyParams[] =>
  es.flatMap((e) => (e.type === 'notify' ? [e.params] : []));
export const events = (es: readonly InstanceEffect[]): string[] => notes(es).map((n) => n.event);
export const finals = (es: readonly InstanceEffect[], corr?: string): NotifyParams[] =>
  notes(es).filter((n) => n.final === true && (corr === undefined || n.corr === corr));
/** Task states as instance.update announced them. */
export const tasks = (es: readonly InstanceEffect[]): (string | null)[] =>
  notes(es).flatMap((n) => (n.event === 'instance.update' && 'taskState' in n.body ? [n.body.taskState ?? null] : []));

/** A run brought to active (build completed). */
export function active(inp?: InstanceInput): Run {
  const r = new Run(inp);
  r.settle();
  return r;
}

/**
 * An idle instance in `vm` (active, stopped, paused, suspended, rescued, error, shelved, soft-delete), reached through
 * the machine itself.
 */
export function idleIn(vm: VmState): Run {
  const r = active();
  const go: Partial<Record<VmState, [InstanceAction, Record<string, unknown>]>> = {
    stopped: ['stop', {}],
    paused: ['pause', {}],
    suspended: ['suspend', {}],
    rescued: ['rescue', {}],
    shelved: ['shelve', {}],
    'soft-delete': ['delete', { soft: true }],
  };
  const a = go[vm];
  if (a) {
    r.cmd(a[0], a[1]);
    r.settle();
  }
  if (vm === 'error') {
    r.cmd('rescue');
    r.step({ code: 'InstanceNotRescuable', message: 'no' });
  }
  if (r.rec.vmState !== vm || r.rec.taskState !== null) throw new Error(`could not reach ${vm}`);
  return r;
}

/**
 * Sends `action` as command `op` and checks it is refused InstanceInvalidState with a lone final event, changing
 * nothing.
 */
export function refusedUnchanged(
  t: ExecutionContext,
  r: Run,
  action: InstanceAction,
  body: Record<string, unknown>,
): void {
  const rec = r.rec;
  const value = r.value;
  const out = r.cmd(action, body, { id: 'op' });
  t.is(out.length, 1);
  t.like(out[0]?.params, {
    event: 'command.rejected',
    corr: 'op',
    final: true,
    body: { code: 'InstanceInvalidState', final: true },
  });
  t.deepEqual(r.rec, rec);
  t.is(r.value, value);
}
