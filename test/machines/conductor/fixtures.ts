/** Records and tasks for the conductor's decision tests. */
import type { BuildTask, HostCommandTask, InstanceRecord } from '../../../protocol/index.js';
import type { Effect, Plan, Stored } from '../../../machines/conductor/index.js';

export const ID = '6f1c1a2e-8d9b-4c1e-9a53-0a7f1e2d3c4b';
export const NOW = 5000;

export const record = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: ID,
  name: 'web',
  project: 'demo',
  user: 'alice',
  host: null,
  node: null,
  vmState: 'building',
  taskState: 'scheduling',
  powerState: 'nostate',
  flavor: { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
  image: null,
  metadata: {},
  locked: false,
  createdAt: 1,
  updatedAt: 1,
  createdBy: 'boot-1',
  forcedHost: null,
  owner: 'conductor',
  epoch: 0,
  ...over,
});

export const stored = (over: Partial<InstanceRecord> = {}, revision = 7): Stored<InstanceRecord> => ({
  value: record(over),
  revision,
});

export const buildTask = (over: Partial<BuildTask> = {}): BuildTask => ({
  instanceId: ID,
  commandId: 'boot-1',
  attempt: 1,
  tried: [],
  alternates: [],
  ...over,
});

export const command = (
  action: string,
  body: Record<string, unknown> = {},
  over: Partial<HostCommandTask> = {},
): HostCommandTask => ({
  instanceId: ID,
  commandId: `${action}-1`,
  action,
  body,
  user: 'alice',
  isAdmin: false,
  ...over,
});

/** The plan, asserting the decision returned one (not a request for a host). */
export function planOf(d: { kind: string }): Plan {
  if (d.kind !== 'plan') throw new Error(`expected a plan, got ${d.kind}`);
  return d as Plan;
}

/** The effects' kinds in order: the shape of a plan. */
export const kinds = (p: { effects: readonly Effect[] }): string[] => p.effects.map((e) => e.kind);

/** The one effect of `kind` in the plan. */
export function effect<K extends Effect['kind']>(
  p: { effects: readonly Effect[] },
  kind: K,
): Extract<Effect, { kind: K }> {
  const found = p.effects.filter((e) => e.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} effect, found ${found.length}`);
  return found[0] as Extract<Effect, { kind: K }>;
}
