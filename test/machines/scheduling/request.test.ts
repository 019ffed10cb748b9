/** The candidates request (machines/scheduling/request.ts) and the aggregate rules (aggregates.ts). */
import test from 'ava';
import {
  aggregatesOfHost,
  architectureOf,
  candidatesRequest,
  imagePropertiesProblem,
  extraSpecsProblem,
  zoneConflict,
  zonesOf,
  type AggregateFacts,
} from '../../../machines/scheduling/index.js';
import type { AggregateRecord } from '../../../protocol/index.js';

const FLAVOR = { name: 'f', vcpus: 2, memoryMb: 1024, rootGb: 10 };
/** What an image-backed instance of FLAVOR asks, with `specs`. */
const asked = (specs?: Record<string, string>, flavor = FLAVOR) => ({ flavor, specs, volumeBacked: false });
const agg = (uuid: string, availabilityZone: string | null, metadata: Record<string, string> = {}): AggregateFacts => ({
  uuid,
  availabilityZone,
  metadata,
});

test('a plain flavor: its resources, COMPUTE_STATUS_DISABLED forbidden, no member_of', (t) => {
  t.deepEqual(candidatesRequest(asked(), undefined, []), {
    resources: { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 10 },
    required: ['!COMPUTE_STATUS_DISABLED'],
  });
  t.deepEqual(candidatesRequest(asked(undefined, { ...FLAVOR, rootGb: 0 }), undefined, [])?.resources, {
    VCPU: 2,
    MEMORY_MB: 1024,
  });
});

test('a volume-backed instance asks for no root disk (Nova is_bfv); a resources:DISK_GB spec still counts', (t) => {
  const bfv = { flavor: FLAVOR, specs: undefined, volumeBacked: true };
  t.deepEqual(candidatesRequest(bfv, undefined, []), {
    resources: { VCPU: 2, MEMORY_MB: 1024 },
    required: ['!COMPUTE_STATUS_DISABLED'],
  });
  const specs = { 'resources:DISK_GB': '3', 'trait:HW_CPU_X86_AVX2': 'required' };
  t.deepEqual(candidatesRequest({ ...bfv, specs }, 'nova', [agg('a1', 'az1')]), {
    resources: { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 3 },
    required: ['!COMPUTE_STATUS_DISABLED', 'HW_CPU_X86_AVX2'],
    memberOf: [['!a1']],
  });
});

test(
  'extra specs: traits required and forbidden, ' + 'resources added and removed, aggregate metadata as member_of',
  (t) => {
    const r = candidatesRequest(
      asked({
        'trait:HW_CPU_X86_AVX2': 'required',
        'trait:CUSTOM_SLOW': 'forbidden',
        'resources:CUSTOM_GPU': '2',
        'resources:DISK_GB': '0',
        'aggregate_instance_extra_specs:ssd': 'true',
        'hw:cpu_policy': 'dedicated',
      }),
      undefined,
      [agg('a1', null, { ssd: 'true' }), agg('a2', null, { ssd: 'false' }), agg('a3', 'az1', { ssd: 'true' })],
    );
    t.deepEqual(r, {
      resources: { VCPU: 2, MEMORY_MB: 1024, CUSTOM_GPU: 2 },
      required: ['!COMPUTE_STATUS_DISABLED', '!CUSTOM_SLOW', 'HW_CPU_X86_AVX2'],
      memberOf: [['a1', 'a3']],
    });
    t.is(
      candidatesRequest(asked({ 'aggregate_instance_extra_specs:ssd': 'true' }), undefined, [agg('a2', null)]),
      undefined,
      'no aggregate has it: nothing can match',
    );
  },
);

test(
  'zones: a named zone is its aggregates; ' +
    'the default zone forbids every zoned one; an unknown zone matches nothing',
  (t) => {
    const all = [agg('a1', 'az1'), agg('a2', 'az1'), agg('a3', 'az2'), agg('a4', null)];
    t.deepEqual(candidatesRequest(asked(), 'az1', all)?.memberOf, [['a1', 'a2']]);
    t.deepEqual(candidatesRequest(asked(), 'nova', all)?.memberOf, [['!a1', '!a2', '!a3']]);
    t.is(candidatesRequest(asked(), 'az9', all), undefined);
    t.is(candidatesRequest(asked(), 'nova', [agg('a4', null)])?.memberOf, undefined, 'no zones at all');
  },
);

test('extra spec validation: namespaces, trait values and names, amounts', (t) => {
  t.is(extraSpecsProblem({ 'trait:HW_CPU_X86_AVX2': 'required', 'hw:mem_page_size': 'large' }), undefined);
  t.regex(extraSpecsProblem({ 'color:x': 'y' }) ?? '', /unknown namespace color/);
  t.regex(extraSpecsProblem({ 'trait:HW_X': 'sometimes' }) ?? '', /required or forbidden/);
  t.regex(extraSpecsProblem({ 'trait:avx': 'required' }) ?? '', /not a trait name/);
  t.regex(extraSpecsProblem({ 'resources:VCPU': '1.5' }) ?? '', /not an amount/);
});

const record = (aggregateId: string, availabilityZone: string | null, hosts: string[]): AggregateRecord => ({
  aggregateId,
  name: aggregateId,
  availabilityZone,
  metadata: {},
  hosts,
  createdAt: 0,
  updatedAt: 0,
});

test(
  "aggregates: a host in one zone at most; nova is nobody's zone; " + "a host's placement aggregates; zones listed",
  (t) => {
    const a1 = record('a1', 'az1', ['h1']);
    const a2 = record('a2', null, ['h1', 'h2']);
    t.regex(zoneConflict(record('a3', 'az2', ['h1']), [a1, a2]) ?? '', /h1 is in availability zone az1/);
    t.is(zoneConflict(record('a3', 'az1', ['h1']), [a1, a2]), undefined, 'the same zone twice is fine');
    t.is(zoneConflict({ ...a1, availabilityZone: 'az5' }, [a1, a2]), undefined, 'its own old zone does not count');
    t.regex(zoneConflict(record('a3', 'nova', []), []) ?? '', /default zone/);
    t.deepEqual(aggregatesOfHost([a2, a1], 'h1'), ['a1', 'a2']);
    t.deepEqual(zonesOf([a1, a2], ['h1', 'h2', 'h3']), [
      { name: 'az1', hosts: 1 },
      { name: 'nova', hosts: 2 },
    ]);
  },
);

test("an image's properties: hw_architecture and trait:NAME=required become required traits; others are kept", (t) => {
  const image = { hw_architecture: 'aarch64', 'trait:CUSTOM_SECURE': 'required', os_distro: 'cirros' };
  t.deepEqual(candidatesRequest(asked({ 'trait:HW_CPU_X86_AVX2': 'forbidden' }), undefined, [], image)?.required, [
    '!COMPUTE_STATUS_DISABLED',
    '!HW_CPU_X86_AVX2',
    'CUSTOM_SECURE',
    'HW_ARCH_AARCH64',
  ]);
  t.is(imagePropertiesProblem(image), undefined);
  t.regex(imagePropertiesProblem({ hw_architecture: 'sparc' }) ?? '', /not an architecture/);
  t.regex(imagePropertiesProblem({ 'trait:CUSTOM_X': 'forbidden' }) ?? '', /must be required/);
  t.regex(imagePropertiesProblem({ 'trait:x': 'required' }) ?? '', /not a trait name/);
  t.is(architectureOf('x64'), 'x86_64');
  t.is(architectureOf('arm64'), 'aarch64');
  t.is(architectureOf('mips'), undefined);
});
