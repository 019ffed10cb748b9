/**
 * A tiny in-test stand-in for the placement actor: schema check (TypeBox, as the decoder
 * does), then decide → evolve → writeReply for writes, query for reads. Every event is kept so
 * tests can replay the log.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import {
  PlacementOps,
  type PlacementOp,
  type PlacementReply,
  type PlacementRequest,
} from '../../../protocol/schemas/placement.js';
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
import { BaseDriver, uuid, type Err, type MakeDriver, type Result } from './driver.js';

const checks = new Map<string, TypeCheck<TSchema>>();
function checker(op: PlacementOp): TypeCheck<TSchema> {
  let c = checks.get(op);
  if (!c) checks.set(op, (c = TypeCompiler.Compile(PlacementOps[op].request)));
  return c;
}

export type CoreOk<O extends PlacementOp> = { status: 200; body: PlacementReply<O>; events: PlacementEvent[] };
export type CoreResult<O extends PlacementOp> = CoreOk<O> | Err;

/** The synchronous core of the pure driver (property tests step it directly). */
export class CoreDriver {
  state: PlacementState = emptyState();
  log: PlacementEvent[] = [];
  private next = 0x1000;

  /** Sends a request as a client would; unknown-shaped bodies fail the schema with 400. */
  send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): CoreResult<O> {
    if (!checker(op).Check(body))
      return { status: 400, code: 'placement.undefined_code', message: 'JSON does not validate' };
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
}

/** The pure core behind the async driver interface. */
export class PureDriver extends BaseDriver {
  readonly core = new CoreDriver();

  send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Promise<Result<O>> {
    const r = this.core.send(op, body);
    if (!('body' in r)) return Promise.resolve(r);
    const { events } = r;
    return Promise.resolve({ status: 200, body: r.body, events: () => Promise.resolve(events) });
  }

  importEvents(events: PlacementEvent[]): Promise<void> {
    for (const e of events) evolve(this.core.state, e);
    this.core.log.push(...events);
    return Promise.resolve();
  }

  replayLog(): Promise<PlacementState> {
    const state = emptyState();
    // Through a JSON round trip, as the log would hand them back.
    for (const e of JSON.parse(JSON.stringify(this.core.log)) as PlacementEvent[]) evolve(state, e);
    return Promise.resolve(state);
  }
}

export const pureDriver: MakeDriver = () => Promise.resolve(new PureDriver());
