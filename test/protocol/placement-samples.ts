/** One valid request and reply body per placement op (protocol/schemas/placement.ts). */
import type { PlacementOp, PlacementReply, PlacementRequest } from '../../protocol/schemas/placement.js';

const RP = '00000000-0000-4000-8000-000000000101';
const CHILD = '00000000-0000-4000-8000-000000000201';
const AGG = '00000000-0000-4000-8000-000000000a66';
const C1 = '00000000-0000-4000-8000-0000000000c1';
const C2 = '00000000-0000-4000-8000-0000000000c2';

const provider = { uuid: RP, name: 'cn1', generation: 3, parentProviderUuid: null, rootProviderUuid: RP };
const child = { uuid: CHILD, name: 'pf1', generation: 0, parentProviderUuid: RP, rootProviderUuid: RP };
const vcpu = { total: 8, reserved: 1, minUnit: 1, maxUnit: 8, stepSize: 1, allocationRatio: 1.5 };
const consumer = {
  consumerGeneration: null,
  project: 'proj-a',
  user: 'user-a',
  consumerType: 'INSTANCE',
  allocations: { [RP]: { resources: { VCPU: 2 } } },
};

type Samples = { [O in PlacementOp]: { request: PlacementRequest<O>; reply: PlacementReply<O> } };

/** Typed against the schemas' static types, so a missing op or a stale field fails to compile. */
const samples: Samples = {
  'providers.create': { request: { uuid: CHILD, name: 'pf1', parentProviderUuid: RP }, reply: { provider: child } },
  'providers.get': { request: { uuid: RP }, reply: { provider } },
  'providers.list': {
    request: {
      name: 'cn1',
      uuid: RP,
      memberOf: [[AGG], [`!${CHILD}`]],
      resources: { VCPU: 1 },
      inTree: RP,
      required: ['HW_CPU_X86_AVX2', '!CUSTOM_X'],
    },
    reply: { providers: [provider, child] },
  },
  'providers.update': {
    request: { uuid: CHILD, name: 'pf1-renamed', parentProviderUuid: null },
    reply: { provider: { ...child, name: 'pf1-renamed', parentProviderUuid: null, rootProviderUuid: CHILD } },
  },
  'providers.delete': { request: { uuid: CHILD }, reply: {} },

  'inventories.get': {
    request: { provider: RP },
    reply: { resourceProviderGeneration: 3, inventories: { VCPU: vcpu } },
  },
  'inventories.set': {
    request: {
      provider: RP,
      resourceProviderGeneration: 3,
      inventories: { VCPU: { total: 8, reserved: 1, maxUnit: 8, allocationRatio: 1.5 }, DISK_GB: { total: 100 } },
    },
    reply: {
      resourceProviderGeneration: 4,
      inventories: {
        VCPU: vcpu,
        DISK_GB: { total: 100, reserved: 0, minUnit: 1, maxUnit: 2147483647, stepSize: 1, allocationRatio: 1 },
      },
    },
  },
  'inventories.getOne': {
    request: { provider: RP, resourceClass: 'VCPU' },
    reply: { resourceProviderGeneration: 3, resourceClass: 'VCPU', ...vcpu },
  },
  'inventories.update': {
    request: { provider: RP, resourceClass: 'VCPU', resourceProviderGeneration: 3, total: 16, stepSize: 2 },
    reply: { resourceProviderGeneration: 4, resourceClass: 'VCPU', ...vcpu, total: 16, stepSize: 2 },
  },
  'inventories.add': {
    request: { provider: RP, resourceClass: 'MEMORY_MB', total: 4096, minUnit: 64 },
    reply: {
      resourceProviderGeneration: 4,
      resourceClass: 'MEMORY_MB',
      total: 4096,
      reserved: 0,
      minUnit: 64,
      maxUnit: 2147483647,
      stepSize: 1,
      allocationRatio: 1,
    },
  },
  'inventories.delete': { request: { provider: RP, resourceClass: 'DISK_GB' }, reply: {} },
  'inventories.deleteAll': { request: { provider: RP }, reply: {} },

  'traits.get': { request: { provider: RP }, reply: { resourceProviderGeneration: 3, traits: ['HW_CPU_X86_AVX2'] } },
  'traits.set': {
    request: { provider: RP, resourceProviderGeneration: 3, traits: ['HW_CPU_X86_AVX2', 'CUSTOM_X'] },
    reply: { resourceProviderGeneration: 4, traits: ['HW_CPU_X86_AVX2', 'CUSTOM_X'] },
  },
  'traits.delete': { request: { provider: RP }, reply: {} },
  'traits.list': {
    request: { prefix: 'CUSTOM_', names: ['CUSTOM_X'], associated: true },
    reply: { traits: ['CUSTOM_X'] },
  },
  'traits.show': { request: { name: 'HW_CPU_X86_AVX2' }, reply: { name: 'HW_CPU_X86_AVX2' } },
  'traits.create': { request: { name: 'CUSTOM_X' }, reply: { created: true } },
  'traits.remove': { request: { name: 'CUSTOM_X' }, reply: {} },

  'resourceClasses.list': { request: {}, reply: { resourceClasses: [{ name: 'VCPU' }, { name: 'CUSTOM_GPU' }] } },
  'resourceClasses.get': { request: { name: 'VCPU' }, reply: { name: 'VCPU' } },
  'resourceClasses.create': { request: { name: 'CUSTOM_GPU' }, reply: { name: 'CUSTOM_GPU' } },
  'resourceClasses.ensure': { request: { name: 'CUSTOM_GPU' }, reply: { created: false } },
  'resourceClasses.rename': { request: { name: 'CUSTOM_GPU', newName: 'CUSTOM_FPGA' }, reply: { name: 'CUSTOM_FPGA' } },
  'resourceClasses.delete': { request: { name: 'CUSTOM_GPU' }, reply: {} },

  'aggregates.get': { request: { provider: RP }, reply: { resourceProviderGeneration: 3, aggregates: [AGG] } },
  'aggregates.set': {
    request: { provider: RP, resourceProviderGeneration: 3, aggregates: [AGG] },
    reply: { resourceProviderGeneration: 4, aggregates: [AGG] },
  },

  'allocations.get': {
    request: { consumer: C1 },
    reply: {
      allocations: { [RP]: { generation: 4, resources: { VCPU: 2 } } },
      consumerGeneration: 1,
      project: 'proj-a',
      user: 'user-a',
      consumerType: 'INSTANCE',
    },
  },
  'allocations.put': { request: { consumer: C1, ...consumer, mappings: { '': [RP] } }, reply: {} },
  'allocations.post': {
    request: {
      consumers: {
        [C1]: { ...consumer, allocations: {}, consumerGeneration: 1 },
        [C2]: { ...consumer, consumerType: 'MIGRATION' },
      },
    },
    reply: {},
  },
  'allocations.delete': { request: { consumer: C1 }, reply: {} },
  'allocations.byProvider': {
    request: { provider: RP },
    reply: { resourceProviderGeneration: 4, allocations: { [C1]: { resources: { VCPU: 2 }, consumerGeneration: 1 } } },
  },

  'usages.get': {
    request: { provider: RP },
    reply: { resourceProviderGeneration: 4, usages: { VCPU: 2, DISK_GB: 0 } },
  },
  'usages.project': {
    request: { project: 'proj-a', user: 'user-a', consumerType: 'all' },
    reply: { usages: { INSTANCE: { VCPU: 5, consumerCount: 5 }, unknown: { VCPU: 1, consumerCount: 1 } } },
  },

  'candidates.get': {
    request: {
      resources: { VCPU: 1 },
      required: ['HW_CPU_X86_AVX2', 'in:CUSTOM_A,CUSTOM_B'],
      memberOf: [[AGG]],
      limit: 10,
      groups: {
        _NET: { resources: { SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET_A'] },
        ACCEL: { required: ['CUSTOM_FPGA'] },
      },
      groupPolicy: 'isolate',
      rootRequired: ['!COMPUTE_STATUS_DISABLED'],
      sameSubtree: [['_NET', 'ACCEL']],
    },
    reply: {
      allocationRequests: [
        {
          allocations: { [RP]: { resources: { VCPU: 1 } }, [CHILD]: { resources: { SRIOV_NET_VF: 1 } } },
          mappings: { '': [RP], _NET: [CHILD] },
        },
      ],
      providerSummaries: {
        [RP]: {
          resources: { VCPU: { capacity: 10, used: 2 } },
          traits: ['HW_CPU_X86_AVX2'],
          parentProviderUuid: null,
          rootProviderUuid: RP,
        },
        [CHILD]: {
          resources: { SRIOV_NET_VF: { capacity: 2, used: 0 } },
          traits: ['CUSTOM_PHYSNET_A'],
          parentProviderUuid: RP,
          rootProviderUuid: RP,
        },
      },
    },
  },

  reshape: {
    request: {
      inventories: {
        [RP]: { resourceProviderGeneration: 4, inventories: { VCPU: { total: 8 } } },
        [CHILD]: { resourceProviderGeneration: 0, inventories: { SRIOV_NET_VF: { total: 4 } } },
      },
      allocations: {
        [C1]: {
          ...consumer,
          consumerGeneration: 1,
          allocations: { [RP]: { resources: { VCPU: 2 } }, [CHILD]: { resources: { SRIOV_NET_VF: 1 } } },
        },
      },
    },
    reply: {},
  },
};

export const PLACEMENT_SAMPLES: Record<string, { request: Record<string, unknown>; reply: Record<string, unknown> }> =
  samples;
