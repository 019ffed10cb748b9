/**
 * What the placement acceptance cases (docs/architecture.md §9.4) talk to: a placement service
 * behind `send(op, body)`, with the fixture helpers built on it. The same case code runs against the pure core
 * (`PureDriver`, pure-driver.ts) and against the real actor over NATS (`NatsDriver`,
 * test/actors/placement/nats-driver.ts).
 */
import type { ExecutionContext, TestFn } from 'ava';
import type { PlacementOp, PlacementReply, PlacementRequest } from '../../../protocol/schemas/placement.js';
import {
  isPlacementError,
  query,
  type PlacementEvent,
  type PlacementRead,
  type PlacementState,
} from '../../../machines/placement/index.js';

export type Ok<O extends PlacementOp> = {
  status: 200;
  body: PlacementReply<O>;
  /** The events this request put in the log ([] for a read, or a write that changed nothing). */
  events(): Promise<PlacementEvent[]>;
};
export type Err = { status: number; code: string; message: string };
export type Result<O extends PlacementOp> = Ok<O> | Err;

export const isOk = <O extends PlacementOp>(r: Result<O>): r is Ok<O> => r.status === 200 && 'body' in r;

/** Deterministic uuid number n. */
export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export const P = 'proj-a';
export const U = 'user-a';
export const T = 'INSTANCE';

/** A placement service as a client sees it, plus two doors into its event log. */
export interface PlacementDriver {
  /** Sends a request as a client would; a body that fails the schema gets 400. */
  send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Promise<Result<O>>;
  /** Sends and insists on success. */
  ok<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Promise<PlacementReply<O>>;
  provider(name: string, extra?: { uuid?: string; parentProviderUuid?: string }): Promise<string>;
  gen(rp: string): Promise<number>;
  inventory(rp: string, inventories: PlacementRequest<'inventories.set'>['inventories']): Promise<void>;
  traits(rp: string, traits: string[]): Promise<void>;
  aggregates(rp: string, aggregates: string[]): Promise<void>;
  /** PUT /allocations with the fixture's project, user and type unless overridden. */
  put(
    consumer: string,
    allocations: Record<string, Record<string, number>>,
    consumerGeneration: number | null,
    extra?: Partial<PlacementRequest<'allocations.put'>>,
  ): Promise<Result<'allocations.put'>>;
  consumerGen(consumer: string): Promise<number | undefined>;
  usages(rp: string): Promise<Record<string, number>>;
  /**
   * Appends events written by an older release (a pre-1.38 consumer without a type can only
   * come from there) to the log, and has the service serve them.
   */
  importEvents(events: PlacementEvent[]): Promise<void>;
  /** The state rebuilt from the event log alone (what a cold start would see). */
  replayLog(): Promise<PlacementState>;
}

/** Makes a fresh, isolated placement for one test; whatever it starts is stopped in the test's teardown. */
export type MakeDriver = (t: ExecutionContext) => Promise<PlacementDriver>;

/** The fixture helpers, written once on top of `send`. */
export abstract class BaseDriver implements PlacementDriver {
  abstract send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Promise<Result<O>>;
  abstract importEvents(events: PlacementEvent[]): Promise<void>;
  abstract replayLog(): Promise<PlacementState>;

  async ok<O extends PlacementOp>(
    op: O,
    body: PlacementRequest<O> | Record<string, unknown>,
  ): Promise<PlacementReply<O>> {
    const r = await this.send(op, body);
    if (!isOk(r)) throw new Error(`${op} failed: ${JSON.stringify(r)}`);
    return r.body;
  }

  async provider(name: string, extra: { uuid?: string; parentProviderUuid?: string } = {}): Promise<string> {
    return (await this.ok('providers.create', { name, ...extra })).provider.uuid;
  }

  async gen(rp: string): Promise<number> {
    return (await this.ok('providers.get', { uuid: rp })).provider.generation;
  }

  async inventory(rp: string, inventories: PlacementRequest<'inventories.set'>['inventories']): Promise<void> {
    await this.ok('inventories.set', { provider: rp, resourceProviderGeneration: await this.gen(rp), inventories });
  }

  async traits(rp: string, traits: string[]): Promise<void> {
    await this.ok('traits.set', { provider: rp, resourceProviderGeneration: await this.gen(rp), traits });
  }

  async aggregates(rp: string, aggregates: string[]): Promise<void> {
    await this.ok('aggregates.set', { provider: rp, resourceProviderGeneration: await this.gen(rp), aggregates });
  }

  put(
    consumer: string,
    allocations: Record<string, Record<string, number>>,
    consumerGeneration: number | null,
    extra: Partial<PlacementRequest<'allocations.put'>> = {},
  ): Promise<Result<'allocations.put'>> {
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

  async consumerGen(consumer: string): Promise<number | undefined> {
    return (await this.ok('allocations.get', { consumer })).consumerGeneration;
  }

  async usages(rp: string): Promise<Record<string, number>> {
    return (await this.ok('usages.get', { provider: rp })).usages;
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

/**
 * Persist, then answer: every read the service gives must equal the same read of the state
 * rebuilt from its log. Compares the provider list, each provider's inventories, traits,
 * aggregates, usages and allocations, each consumer's allocations, and the global trait and
 * class lists.
 */
export async function assertLogReplays(t: ExecutionContext, d: PlacementDriver): Promise<void> {
  const replayed = await d.replayLog();
  const same = async (op: PlacementRead['op'], body: Record<string, unknown>) => {
    const local = query(replayed, { op, body } as PlacementRead);
    const live = await d.send(op, body);
    const label = `log replay differs on ${op} ${JSON.stringify(body)}`;
    if (isPlacementError(local)) t.like(live, { status: local.status, code: local.code }, label);
    else t.deepEqual(isOk(live) ? live.body : live, local, label);
  };
  await same('providers.list', {});
  await same('traits.list', {});
  await same('resourceClasses.list', {});
  for (const rp of replayed.providers.keys()) {
    for (const op of [
      'inventories.get',
      'traits.get',
      'aggregates.get',
      'usages.get',
      'allocations.byProvider',
    ] as const)
      await same(op, { provider: rp });
  }
  for (const c of replayed.consumers.keys()) await same('allocations.get', { consumer: c });
}

/** A case body: `make` gives it a fresh placement (a case may want two). */
export type CaseBody = (t: ExecutionContext, make: () => Promise<PlacementDriver>) => Promise<void>;

/**
 * Registers acceptance cases as `<area> case <n> - <title>`. After each case, every placement it made
 * must answer as its own log replayed (assertLogReplays).
 */
export function acceptanceCases(
  test: TestFn,
  makeDriver: MakeDriver,
  area: string,
): (n: number, title: string, body: CaseBody) => void {
  return (n, title, body) => {
    test(`${area} case ${n} - ${title}`, async (t) => {
      const made: PlacementDriver[] = [];
      await body(t, async () => {
        const d = await makeDriver(t);
        made.push(d);
        return d;
      });
      for (const d of made) await assertLogReplays(t, d);
    });
  };
}
