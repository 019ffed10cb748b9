/**
 * The pieces every transition body is made of: step keys, event bodies, and `Tx`, a local
 * builder that patches the context and collects effects inside one pure call.
 */
import type { Fault } from '../../protocol/schemas/common.js';
import type { InstanceEventBody } from '../../protocol/schemas/instance.js';
import {
  HANDLED_LIMIT,
  type InstanceContext,
  type InstanceEffect,
  type InstanceEvent,
  type StepName,
} from './types.js';

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
export class Tx {
  ctx: InstanceContext;
  readonly effects: InstanceEffect[] = [];
  constructor(
    ctx: InstanceContext,
    readonly ts: number,
  ) {
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
    if (c.vmState !== before.vmState || c.taskState !== before.taskState || c.powerState !== before.powerState)
      this.notify('instance.update', this.corr);
    return this;
  }
  notify(event: string, corr: string, final?: boolean, fault?: Fault | null): this {
    const body = eventBody(this.ctx, final, fault);
    this.effects.push({
      type: 'notify',
      params: final === true ? { event, corr, final: true, body } : { event, corr, body },
    });
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
    this.ctx = {
      ...this.ctx,
      handled: handled.length > HANDLED_LIMIT ? handled.slice(handled.length - HANDLED_LIMIT) : handled,
    };
    return this;
  }
  result(): TxResult {
    return { context: this.ctx, effects: this.effects };
  }
}

export const tsOf = (ctx: InstanceContext, event: InstanceEvent | { type: string }): number =>
  'ts' in event && typeof event.ts === 'number' ? event.ts : ctx.updatedAt;
export const errorOf = (event: InstanceEvent | { type: string }): Fault => {
  if (event.type === 'STEP_FAILED' && 'error' in event) return { code: event.error.code, message: event.error.message };
  return { code: 'UnknownError', message: `unexpected ${event.type}` };
};
export const isRollback = (event: InstanceEvent | { type: string }): boolean =>
  event.type === 'STEP_FAILED' && 'error' in event && event.error.rollback === true;
