/**
 * The machine's transition bodies as plain pure functions: given the context and the event,
 * return the next context and the effects (runStep / notify) in order. The machine picks
 * which one runs (states, guards); these say what it does.
 */
import type { Fault } from '../../protocol/schemas/common.js';
import type { InstanceEventBody, VmState } from '../../protocol/schemas/instance.js';
import { decide, notifOf, specOf } from './rules.js';
import { HANDLED_LIMIT, type CommandEvent, type InstanceContext, type InstanceEffect, type InstanceEvent, type InstanceInput, type Operation, type StepName } from './types.js';

export type TxParams =
  | { readonly tx: 'bootStart' }
  | { readonly tx: 'advance'; readonly task: string; readonly step: StepName }
  | { readonly tx: 'next'; readonly step: StepName }
  | { readonly tx: 'buildDone' }
  | { readonly tx: 'buildFailed'; readonly reschedule: boolean }
  | { readonly tx: 'rescheduleIssue' }
  | { readonly tx: 'handOff' }
  | { readonly tx: 'abortDone' }
  | { readonly tx: 'command' }
  | { readonly tx: 'opDone' }
  | { readonly tx: 'opFailed' }
  | { readonly tx: 'deleteDone' }
  | { readonly tx: 'deleteFailed' };

export interface TxResult {
  readonly context: InstanceContext;
  readonly effects: readonly InstanceEffect[];
}

/** The idempotency key of `step` in the operation in flight. */
export function stepKey(ctx: Pick<InstanceContext, 'instanceId' | 'op'>, step: StepName): string | undefined {
  return ctx.op === null ? undefined : `${ctx.instanceId}:${ctx.op.opId}:${step}`;
}

/** Build attempts > 1 get their own keys: a reschedule must not look done on the next host. */
export function buildOpId(bootId: string, attempt: number): string {
  return attempt <= 1 ? bootId : `${bootId}~${attempt}`;
}

export function initialContext(input: InstanceInput): InstanceContext {
  const r = input.record;
  const attempt = input.attempt ?? 1;
  return {
    instanceId: r.instanceId,
    name: r.name,
    project: r.project,
    user: r.user,
    host: r.host,
    node: r.node,
    vmState: 'building',
    taskState: 'scheduling',
    powerState: 'nostate',
    flavor: r.flavor,
    image: r.image,
    metadata: r.metadata ?? {},
    locked: r.locked ?? false,
    lockedBy: r.locked === true ? 'admin' : null,
    fault: null,
    createdAt: r.createdAt,
    updatedAt: input.ts,
    op: { id: input.bootId, action: 'boot', opId: buildOpId(input.bootId, attempt), joined: [] },
    handled: [input.bootId],
    attempt,
    maxAttempts: input.maxAttempts ?? 3,
    stashedVmState: null,
  };
}

/** The body of a lifecycle event as of `ctx`. */
export function eventBody(ctx: InstanceContext, final?: boolean, fault?: Fault | null): InstanceEventBody {
  const f = fault === undefined ? ctx.fault : fault;
  return {
    instanceId: ctx.instanceId,
    name: ctx.name,
    host: ctx.host,
    node: ctx.node,
    vmState: ctx.vmState,
    taskState: ctx.taskState,
    powerState: ctx.powerState,
    flavor: ctx.flavor,
    ...(f ? { fault: f } : {}),
    ...(final === true ? { final: true } : {}),
  };
}

/** A local builder: mutation stays inside one pure call. */
class Tx {
  ctx: InstanceContext;
  readonly effects: InstanceEffect[] = [];
  constructor(ctx: InstanceContext, readonly ts: number) {
    this.ctx = ctx;
  }
  get corr(): string {
    return this.ctx.op?.id ?? '';
  }
  /** Patches the record; vm/task/power changes emit `instance.update`. */
  set(patch: Partial<InstanceContext>): this {
    const before = this.ctx;
    this.ctx = { ...before, ...patch, updatedAt: Math.max(before.updatedAt, this.ts) };
    const c = this.ctx;
    if (c.vmState !== before.vmState || c.taskState !== before.taskState || c.powerState !== before.powerState) this.notify('instance.update', this.corr);
    return this;
  }
  notify(event: string, corr: string, final?: boolean, fault?: Fault | null): this {
    const body = eventBody(this.ctx, final, fault);
    this.effects.push({ type: 'notify', params: final === true ? { event, corr, final: true, body } : { event, corr, body } });
    return this;
  }
  /** The terminal event for the operation and every command joined to it. */
  final(event: string, fault?: Fault | null): this {
    const op = this.ctx.op;
    if (op === null) return this;
    for (const id of [op.id, ...op.joined]) this.notify(event, id, true, fault);
    return this;
  }
  run(step: StepName): this {
    const key = stepKey(this.ctx, step);
    if (key !== undefined) this.effects.push({ type: 'runStep', params: { step, key } });
    return this;
  }
  remember(id: string): this {
    const handled = [...this.ctx.handled, id];
    this.ctx = { ...this.ctx, handled: handled.length > HANDLED_LIMIT ? handled.slice(handled.length - HANDLED_LIMIT) : handled };
    return this;
  }
  result(): TxResult {
    return { context: this.ctx, effects: this.effects };
  }
}

const tsOf = (ctx: InstanceContext, event: InstanceEvent | { type: string }): number => ('ts' in event && typeof event.ts === 'number' ? event.ts : ctx.updatedAt);
const errorOf = (event: InstanceEvent | { type: string }): Fault => {
  if (event.type === 'STEP_FAILED' && 'error' in event) return { code: event.error.code, message: event.error.message };
  return { code: 'UnknownError', message: `unexpected ${event.type}` };
};
const isRollback = (event: InstanceEvent | { type: string }): boolean => event.type === 'STEP_FAILED' && 'error' in event && event.error.rollback === true;

/**
 * A build failure's fault: a failure that a reschedule would have tried elsewhere, with no
 * attempt left, is Nova's MaxRetriesExceeded (a forced host gets no second attempt: it keeps
 * the failure's own code).
 */
function buildFault(ctx: InstanceContext, event: InstanceEvent | { type: string }, rescheduling: boolean): Fault {
  const f = errorOf(event);
  const reschedulable = event.type === 'STEP_FAILED' && 'error' in event && event.error.reschedulable === true;
  if (rescheduling || !reschedulable || ctx.maxAttempts <= 1) return f;
  return { code: 'MaxRetriesExceeded', message: `build failed on attempt ${ctx.attempt} of ${ctx.maxAttempts}: ${f.code}: ${f.message}` };
}

/** The op in flight ends without its own result: it gets its `.error` terminal now (§0.2). */
function preempt(t: Tx, by: string, code: string): void {
  const op = t.ctx.op;
  if (op === null) return;
  t.final(`instance.${notifOf(op.action)}.error`, { code, message: `pre-empted by ${by}` });
  t.ctx = { ...t.ctx, op: null };
}

function command(t: Tx, cmd: CommandEvent): void {
  const d = decide(t.ctx, cmd);
  if (d.kind === 'duplicate') return;
  t.remember(cmd.id);
  if (d.kind === 'reject') {
    t.effects.push({ type: 'notify', params: { event: 'command.rejected', corr: cmd.id, final: true, body: { instanceId: t.ctx.instanceId, code: d.code, message: d.message, final: true } } });
    return;
  }
  switch (d.as) {
    case 'lock':
      if (!t.ctx.locked) t.set({ locked: true, lockedBy: cmd.isAdmin ? 'admin' : 'owner' });
      t.notify('instance.lock', cmd.id, true);
      return;
    case 'unlock':
      if (t.ctx.locked) t.set({ locked: false, lockedBy: null });
      t.notify('instance.unlock', cmd.id, true);
      return;
    case 'deleteJoin': {
      const op = t.ctx.op;
      if (op !== null) t.ctx = { ...t.ctx, op: { ...op, joined: [...op.joined, cmd.id] } };
      return;
    }
    case 'delete':
      preempt(t, `delete ${cmd.id}`, 'UnexpectedDeletingTaskStateError');
      t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'delete', opId: cmd.id, joined: [] } };
      t.set({ taskState: 'deleting' }).notify('instance.delete.start', cmd.id).run('destroy');
      return;
    default: {
      const rebootType = cmd.action === 'reboot' && cmd.body['type'] === 'HARD' ? 'HARD' : 'SOFT';
      const spec = specOf(d.as, rebootType);
      if (spec === undefined) return;
      preempt(t, `${cmd.action} ${cmd.id}`, 'UnexpectedTaskStateError');
      const op: Operation = { id: cmd.id, action: d.as, opId: cmd.id, joined: [], ...(d.as === 'reboot' ? { rebootType } : {}) };
      t.ctx = { ...t.ctx, op, ...(d.as === 'suspend' ? { stashedVmState: t.ctx.vmState } : {}) };
      const [first, ...rest] = spec.tasks;
      t.set({ taskState: first ?? null }).notify(`instance.${spec.notif}.start`, cmd.id);
      for (const task of rest) t.set({ taskState: task });
      t.run(spec.step);
    }
  }
}

function opDone(t: Tx): void {
  const op = t.ctx.op;
  const spec = op && specOf(op.action, op.rebootType);
  if (!op || !spec) return;
  const vm: VmState = spec.done.vm ?? t.ctx.stashedVmState ?? 'active';
  t.set({ vmState: vm, taskState: null, powerState: spec.done.power, fault: null, ...(op.action === 'resume' ? { stashedVmState: null } : {}) });
  t.final(`instance.${spec.notif}.end`);
  t.ctx = { ...t.ctx, op: null };
}

function opFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  const op = t.ctx.op;
  const spec = op && specOf(op.action, op.rebootType);
  if (!op || !spec) return;
  const fault = errorOf(event);
  let vm: VmState = t.ctx.vmState;
  if (spec.fail.kind === 'error' || (spec.fail.kind === 'rollbackElseError' && !isRollback(event))) vm = 'error';
  else if (spec.fail.kind === 'rollbackElseError' && spec.fail.vm !== undefined) vm = spec.fail.vm;
  t.set({ vmState: vm, taskState: null, fault });
  t.final(`instance.${spec.notif}.error`);
  t.ctx = { ...t.ctx, op: null };
}

/** Runs one transition body. Pure: same inputs, same result. */
export function runTx(ctx: InstanceContext, event: InstanceEvent | { type: string }, p: TxParams): TxResult {
  const t = new Tx(ctx, tsOf(ctx, event));
  switch (p.tx) {
    case 'bootStart':
      // The gateway announced the build's first attempt when it wrote the record; each
      // reschedule onto another host is a new attempt with its own start (as in Nova).
      if (t.ctx.attempt > 1) t.notify('instance.create.start', t.corr);
      t.run('claim');
      break;
    case 'advance':
      t.set({ taskState: p.task }).run(p.step);
      break;
    case 'next':
      t.run(p.step);
      break;
    case 'buildDone':
      t.set({ vmState: 'active', taskState: null, powerState: 'running' }).final('instance.create.end');
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'buildFailed':
      t.set({ fault: buildFault(t.ctx, event, p.reschedule) });
      if (p.reschedule) t.notify('instance.create.error', t.corr);
      t.run('destroy');
      break;
    case 'rescheduleIssue':
      t.set({ host: null, node: null, taskState: 'scheduling', powerState: 'nostate' }).run('reschedule');
      break;
    case 'handOff':
      break;
    case 'abortDone':
      if (event.type === 'STEP_FAILED' && t.ctx.fault === null) t.set({ fault: errorOf(event) });
      t.set({ vmState: 'error', taskState: null, powerState: 'nostate', host: null, node: null }).final('instance.create.error');
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'command':
      if (event.type === 'COMMAND') command(t, event as CommandEvent);
      break;
    case 'opDone':
      opDone(t);
      break;
    case 'opFailed':
      opFailed(t, event);
      break;
    case 'deleteDone':
      t.set({ vmState: 'deleted', taskState: null, powerState: 'nostate' }).final('instance.delete.end');
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'deleteFailed':
      t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.delete.error');
      t.ctx = { ...t.ctx, op: null };
      break;
  }
  return t.result();
}
