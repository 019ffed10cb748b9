/** Weighing (machines/scheduling/weigh.ts) and host selection over nested and sharing candidates (pick-hosts.ts). */
import test from 'ava';
import { multipliersOf, scheduleHosts } from '../../../machines/conductor/index.js';
import { DEFAULT_MULTIPLIERS, weighHosts } from '../../../machines/scheduling/index.js';
import type { ServiceRecord } from '../../../protocol/index.js';

const facts = (host: string, freeRamMb: number, freeVcpus = 0, freeDiskGb = 0, group = 0, failedBuilds = 0) => ({
  host,
  freeRamMb,
  freeVcpus,
  freeDiskGb,
  group,
  failedBuilds,
});

test('weights are normalized per weigher, multiplied and summed; ties by name', (t) => {
  const hosts = [facts('a', 1000, 2), facts('b', 3000, 1), facts('c', 2000, 8)];
  t.deepEqual(
    weighHosts(hosts, DEFAULT_MULTIPLIERS).map((w) => w.host),
    ['b', 'c', 'a'],
    'RAM only by default',
  );
  t.deepEqual(
    weighHosts(hosts, { ...DEFAULT_MULTIPLIERS, ram: -1 }).map((w) => w.host),
    ['a', 'c', 'b'],
    'pack',
  );
  const withCpu = weighHosts(hosts, { ...DEFAULT_MULTIPLIERS, cpu: 2 });
  t.deepEqual(
    withCpu.map((w) => w.host),
    ['c', 'b', 'a'],
  );
  t.deepEqual(withCpu[0]!.parts, { ram: 0.5, cpu: 2, disk: 0, softAffinity: 0, buildFailure: 0 });
  t.deepEqual(
    weighHosts([facts('y', 5), facts('x', 5)], DEFAULT_MULTIPLIERS).map((w) => [w.host, w.weight]),
    [
      ['x', 0],
      ['y', 0],
    ],
    'all equal: 0, by name',
  );
  t.deepEqual(
    weighHosts([facts('a', 9000, 0, 0, -2), facts('b', 1000, 0, 0, 0)], DEFAULT_MULTIPLIERS).map((w) => w.host),
    ['b', 'a'],
    'the soft group weight beats RAM by default',
  );
  const failing = weighHosts(
    [facts('a', 9000, 0, 0, 5, 1), facts('b', 1000, 0, 0, 0, 0), facts('c', 5000, 0, 0, 0, 3)],
    DEFAULT_MULTIPLIERS,
  );
  t.deepEqual(
    failing.map((w) => w.host),
    ['b', 'a', 'c'],
    'build failures (Nova: x 1,000,000) beat RAM and the soft policies; fewer failures first',
  );
  t.deepEqual(
    failing.map((w) => w.parts.buildFailure),
    [1_000_000, (2 / 3) * 1_000_000, 0],
  );
});

test("a host's failed builds come from its service record", (t) => {
  const one = (host: string) => ({
    allocations: { [host]: { resources: { MEMORY_MB: 1 } } },
    mappings: {},
  });
  const summary = (root: string, ramMb: number) => ({
    resources: { MEMORY_MB: { capacity: ramMb, used: 0 } },
    traits: [],
    parentProviderUuid: null,
    rootProviderUuid: root,
  });
  const r = scheduleHosts({
    candidates: {
      allocationRequests: [one('big'), one('small')],
      providerSummaries: { big: summary('big', 8000), small: summary('small', 1000) },
    },
    hostOf: new Map([
      ['big', 'big'],
      ['small', 'small'],
    ]),
    services: [{ ...live('big'), failedBuilds: 2 }, live('small')],
    tried: [],
    forcedHost: null,
    weigher: 'spread',
    count: 2,
  });
  t.deepEqual(
    r.choices.map((c) => c.host),
    ['small', 'big'],
  );
});

const live = (host: string, enabled = true): ServiceRecord => ({
  name: `compute-${host}`,
  role: 'compute',
  host,
  enabled,
  forcedDown: false,
  startedAt: 0,
  lastSeen: 0,
});

test(
  'candidates of several providers count for the compute host whose tree they use; ' + 'explain says why others go',
  (t) => {
    const summary = (root: string, resources: Record<string, { capacity: number; used: number }>) => ({
      resources,
      traits: [],
      parentProviderUuid: null,
      rootProviderUuid: root,
    });
    const r = scheduleHosts({
      candidates: {
        allocationRequests: [
          // h1: its root and a nested child (NUMA-like) together
          { allocations: { r1: { resources: { VCPU: 1 } }, c1: { resources: { MEMORY_MB: 512 } } }, mappings: {} },
          // h2: its root with disk from a sharing provider
          {
            allocations: { r2: { resources: { VCPU: 1, MEMORY_MB: 512 } }, s1: { resources: { DISK_GB: 1 } } },
            mappings: {},
          },
          // the sharing provider alone: no compute host
          { allocations: { s1: { resources: { DISK_GB: 1 } } }, mappings: {} },
          // h3 is disabled
          { allocations: { r3: { resources: { VCPU: 1, MEMORY_MB: 512 } } }, mappings: {} },
        ],
        providerSummaries: {
          r1: summary('r1', { VCPU: { capacity: 8, used: 0 } }),
          c1: summary('r1', { MEMORY_MB: { capacity: 4096, used: 0 } }),
          r2: summary('r2', { VCPU: { capacity: 8, used: 0 }, MEMORY_MB: { capacity: 2048, used: 0 } }),
          s1: summary('s1', { DISK_GB: { capacity: 100, used: 0 } }),
          r3: summary('r3', { VCPU: { capacity: 8, used: 0 }, MEMORY_MB: { capacity: 9999, used: 0 } }),
        },
      },
      // Every provider has a name (the conductor lists them all): the sharing one is no host.
      hostOf: new Map([
        ['r1', 'h1'],
        ['c1', 'h1-numa0'],
        ['r2', 'h2'],
        ['r3', 'h3'],
        ['s1', 'shared-disk'],
      ]),
      services: [live('h1'), live('h2'), live('h3', false)],
      tried: [],
      forcedHost: null,
      weigher: 'spread',
      multipliers: multipliersOf('spread'),
      count: 3,
      explain: true,
    });
    t.deepEqual(
      r.choices.map((c) => [c.host, c.provider, Object.keys(c.allocations).sort()]),
      [
        ['h1', 'r1', ['c1', 'r1']],
        ['h2', 'r2', ['r2', 's1']],
      ],
      'h1 has more free RAM in its tree',
    );
    t.deepEqual(
      r.verdicts.filter((v) => v.verdict === 'dropped').map((v) => v.host),
      ['shared-disk', 'h3'],
      'the sharing provider alone is dropped as no compute host',
    );
    t.like(
      r.verdicts.find((v) => v.host === 'h3'),
      { verdict: 'dropped', reason: 'disabled by an operator' },
    );
    t.like(
      r.verdicts.find((v) => v.host === 'h1'),
      { verdict: 'chosen' },
    );
  },
);
