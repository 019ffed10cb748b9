/**
 * A tiny in-test stand-in for the placement actor: schema check (TypeBox, as the decoder
 * does), then decide → evolve → writeReply for writes, query for reads. Every event is kept so
 * tests can replay the log.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { PlacementOps, type PlacementOp, type PlacementReply, type PlacementRequest } from '../../../protocol/schemas/placement.js';
import {
  decide,
  emptyState,
  evolve,
  isPlacementError,
  isWriteRequest,
  query,
  writeReply,
  type PlacementEvent,
  type PlacementRequestOf,
  type PlacementState,
} from '../../../machines/placement/index.js';

const checks = new Map<string, TypeCheck<TSchema>>();
function checker(op: PlacementOp): TypeCheck<TSchema> {
  let c = checks.get(op);
  if (!c) checks.set(op, (c = TypeCompiler.Compile(PlacementOps[op].request)));
  return c;
}

export type Ok<O extends PlacementOp> = { status: 200; body: PlacementReply<O>; events: PlacementEvent[] };
export type Err = { status: number; code: string; message: string };
export type Result<O extends PlacementOp> = Ok<O> | Err;

export const isOk = <O extends PlacementOp>(r: Result<O>): r is Ok<O> => r.status === 200;

/** Deterministic uuid number n. */
export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export const P = 'proj-a';
export const U = 'user-a';
export const T = 'INSTANCE';

export class Driver {
  state: PlacementState = emptyState();
  log: PlacementEvent[] = [];
  private next = 0x1000;

  /** Send a request as a client would; unknown-shaped bodies fail the schema with 400. */
  send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Result<O> {
    if (!checker(op).Check(body)) return { status: 400, code: 'placement.undefined_code', message: 'JSON does not validate' };
    let b = body as PlacementRequest<O>;
    if (op === 'providers.create' && (b as PlacementRequest<'providers.create'>).uuid === undefined) {
      b = { ...b, uuid: uuid(this.next++) };
    }
    const req = { op, body: b } as PlacementRequestOf;
    if (isWriteRequest(req)) {
      const out = decide(this.state, req);
      if (isPlacementError(out)) return out.toBody();
      for (const e of out) evolve(this.state, e);
      this.log.push(...out);
      return { status: 200, body: writeReply(this.state, req, out) as PlacementReply<O>, events: out };
    }
    const out = query(this.state, req);
    if (isPlacementError(out)) return out.toBody();
    return { status: 200, body: out as PlacementReply<O>, events: [] };
  }

  /** Send and insist on success. */
  ok<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): PlacementReply<O> {
    const r = this.send(op, body);
    if (!isOk(r)) throw new Error(`${op} failed: ${JSON.stringify(r)}`);
    return r.body;
  }

  provider(name: string, extra: { uuid?: string; parentProviderUuid?: string } = {}): string {
    return this.ok('providers.create', { name, ...extra }).provider.uuid;
  }

  gen(rp: string): number {
    return this.ok('providers.get', { uuid: rp }).provider.generation;
  }

  inventory(rp: string, inventories: PlacementRequest<'inventories.set'>['inventories']): void {
    this.ok('inventories.set', { provider: rp, resourceProviderGeneration: this.gen(rp), inventories });
  }

  traits(rp: string, traits: string[]): void {
    this.ok('traits.set', { provider: rp, resourceProviderGeneration: this.gen(rp), traits });
  }

  aggregates(rp: string, aggregates: string[]): void {
    this.ok('aggregates.set', { provider: rp, resourceProviderGeneration: this.gen(rp), aggregates });
  }

  /** PUT /allocations with the fixture's project, user and type unless overridden. */
  put(
    consumer: string,
    allocations: Record<string, Record<string, number>>,
    consumerGeneration: number | null,
    extra: Partial<PlacementRequest<'allocations.put'>> = {},
  ): Result<'allocations.put'> {
    return this.send('allocations.put', {
      consumer,
      consumerGeneration,
      project: P,
      user: U,
      consumerType: T,
      allocations: wrap(allocations),
      ...extra,
    });
  }

  consumerGen(consumer: string): number | undefined {
    return this.ok('allocations.get', { consumer }).consumerGeneration;
  }

  usages(rp: string): Record<string, number> {
    return this.ok('usages.get', { provider: rp }).usages;
  }
}

/** `{ rp: { RC: n } }` → `{ rp: { resources: { RC: n } } }`. */
export function wrap(a: Record<string, Record<string, number>>): Record<string, { resources: Record<string, number> }> {
  return Object.fromEntries(Object.entries(a).map(([rp, resources]) => [rp, { resources }]));
}

/** A consumer entry of allocations.post with the fixture's project, user and type. */
export function entry(
  allocations: Record<string, Record<string, number>>,
  consumerGeneration: number | null,
  consumerType = T,
): PlacementRequest<'allocations.post'>['consumers'][string] {
  return { allocations: wrap(allocations), consumerGeneration, project: P, user: U, consumerType };
}
