/**
 * One valid body per message type, so round-trip tests can prove they cover every type
 * the registry knows (a type without a sample fails the coverage test).
 */
import { INSTANCE_ACTIONS, INSTANCE_EVENT_TYPES, commandType } from '../../protocol/index.js';
import { PLACEMENT_SAMPLES } from './placement-samples.js';

const flavor = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const eventBody = {
  instanceId: 'i-1',
  name: 'web',
  host: 'h1',
  node: 'h1',
  vmState: 'active',
  taskState: null,
  powerState: 'running',
  flavor,
};
const uploaded = {
  imageId: 'img-2',
  name: 'mine',
  project: 'demo',
  kind: 'upload',
  status: 'active',
  sizeBytes: 1048576,
  diskFormat: 'qcow2',
  sha256: 'ab'.repeat(32),
  createdAt: 5,
  updatedAt: 6,
};
const record = {
  instanceId: 'i-1',
  name: 'web',
  project: 'demo',
  user: 'alice',
  host: 'h1',
  node: 'h1',
  vmState: 'active',
  taskState: null,
  powerState: 'running',
  flavor,
  image: 'cirros',
  metadata: { role: 'web' },
  locked: false,
  createdAt: 1,
  updatedAt: 2,
  ports: [{ portId: 'p-1', networkId: 'n-1', mac: 'fa:16:3e:01:02:03', ips: ['10.0.0.12'], created: true }],
  blockDevices: [{ volumeId: 'v-1', device: 'vdb', deleteOnTermination: false }],
};

const commandBodies: Record<string, Record<string, unknown>> = {
  boot: {
    name: 'web',
    flavor: 'm1.small',
    image: 'cirros',
    metadata: { a: 'b' },
    networks: [{ network: 'n-1', fixedIp: '10.0.0.5' }, { port: 'p-1' }],
  },
  reboot: { type: 'HARD' },
  rebuild: { image: 'cirros' },
  resize: { flavor: 'm1.large' },
  migrate: { host: 'h2' },
  live_migrate: {},
  evacuate: { host: 'h3' },
  unshelve: {},
  snapshot: { name: 'snap-1' },
  rename: { name: 'web-2' },
  volume_attach: { volumeId: 'v-1', deleteOnTermination: true },
  volume_detach: { volumeId: 'v-1' },
  interface_attach: { network: 'net-1', fixedIp: '10.0.0.9' },
  interface_detach: { portId: 'port-1' },
};

export const COMMAND_SAMPLES: Record<string, Record<string, unknown>> = Object.fromEntries(
  INSTANCE_ACTIONS.map((a) => [commandType(a), commandBodies[a] ?? {}]),
);

export const EVENT_SAMPLES: Record<string, Record<string, unknown>> = {
  ...Object.fromEntries(
    INSTANCE_EVENT_TYPES.map((t) => [
      t,
      t.endsWith('.error')
        ? { ...eventBody, vmState: 'error', fault: { code: 'NoValidHost', message: 'no host' }, final: true }
        : eventBody,
    ]),
  ),
  'command.rejected': {
    instanceId: 'i-1',
    code: 'InstanceInvalidState',
    message: 'cannot stop a stopped instance',
    final: true,
  },
  'placement.leader': { name: 'placement-1', term: 3, leader: true },
  'service.up': { name: 'h1', role: 'compute' },
  'service.down': { name: 'h1', role: 'compute' },
  'audit.healed': {
    host: 'h1',
    repaired: [
      { kind: 'leaked-allocation', id: 'i-1', instanceId: 'i-1', detail: 'allocation of deleted consumer i-1 removed' },
    ],
  },
};

export const REQUEST_SAMPLES: Record<string, Record<string, unknown>> = {
  'query.instances.list': {},
  'query.instances.show': { instanceId: 'i-1' },
  'query.instances.consoleLog': { instanceId: 'i-1', length: 10 },
  'rpc.consoleLog': { instanceId: 'i-1' },
  'ctl.status': {},
  'ctl.kill': { actor: 'instance/i-1', restartAfterMs: 100 },
  'tracker.instanceClaim': {
    opId: 'i-1:cmd-1:claim',
    instanceId: 'i-1',
    flavor: { vcpus: 1, memoryMb: 2048, rootGb: 20 },
  },
  'tracker.abortInstanceClaim': { opId: 'i-1:cmd-1:releaseClaim', instanceId: 'i-1' },
  'tracker.updateUsage': { opId: 'i-1:cmd-2:usage', instanceId: 'i-1', vmState: 'active', taskState: null },
  'tracker.report': {},
  'rpc.status': {},
  'rpc.destroyGuest': {
    instanceId: 'i-1',
    migrationId: 'm-1',
    epoch: 3,
    revision: 42,
    stepKey: 'i-1:c-1:confirmSource',
  },
  'rpc.preLiveMigration': {
    instanceId: 'i-1',
    migrationId: 'm-1',
    epoch: 2,
    revision: 40,
    stepKey: 'i-1:c-1:liveMigrate',
    name: 'web',
    flavor,
    image: null,
  },
  'tracker.moveClaim': {
    opId: 'i-1:cmd-3:moveClaim',
    migrationId: 'm-1',
    instanceId: 'i-1',
    flavor: { vcpus: 2, memoryMb: 4096, rootGb: 40 },
    side: 'destination',
    kind: 'resize',
  },
  'tracker.dropMoveClaim': { opId: 'i-1:cmd-4:confirmSource', migrationId: 'm-1', side: 'source' },
  'tracker.finishMove': { opId: 'i-1:cmd-3:finishResize', migrationId: 'm-1' },
  'query.flavors.list': {},
  'query.actions.list': { instanceId: 'i-1' },
  'query.images.list': { instanceId: 'i-1' },
  'image.create': { name: 'mine', sizeBytes: 1048576, sha256: 'ab'.repeat(32), diskFormat: 'qcow2' },
  'image.upload': { imageId: 'img-2', offset: 524288, data: Buffer.from([1, 2, 3]) },
  'image.finish': { imageId: 'img-2' },
  'image.delete': { imageId: 'img-2' },
  'query.migrations.list': { instanceId: 'i-1' },
  'admin.hosts.list': {},
  'admin.instances.list': { project: 'demo' },
  'admin.instances.show': { instanceId: 'i-1' },
  'admin.hosts.set': { host: 'h1', enabled: false, forcedDown: false, reason: 'maintenance' },
  'query.quotas.show': {},
  'admin.quotas.show': { project: 'demo' },
  'admin.quotas.set': { project: 'demo', instances: 5, cores: 10, ramMb: 4096 },
  'group.create': { name: 'web', policy: 'anti-affinity', rules: { maxServerPerHost: 2 } },
  'group.list': {},
  'group.show': { groupId: 'g-1' },
  'group.delete': { groupId: 'g-1' },
  'net.network.create': { name: 'private', shared: false },
  'net.network.list': {},
  'net.network.show': { networkId: 'n-1' },
  'net.network.delete': { networkId: 'n-1' },
  'net.subnet.create': {
    networkId: 'n-1',
    name: 'v4',
    cidr: '10.0.0.0/24',
    gatewayIp: '10.0.0.1',
    allocationPools: [{ start: '10.0.0.10', end: '10.0.0.200' }],
  },
  'net.subnet.list': { networkId: 'n-1' },
  'net.subnet.show': { subnetId: 's-1' },
  'net.subnet.delete': { subnetId: 's-1' },
  'net.port.create': { networkId: 'n-1', name: 'p', fixedIps: [{ subnetId: 's-1', ipAddress: '10.0.0.12' }] },
  'net.port.list': { networkId: 'n-1' },
  'net.port.show': { portId: 'p-1' },
  'net.port.delete': { portId: 'p-1' },
  'net.ipam.audit': { dryRun: true, graceMs: 0 },
  'volume.create': { name: 'data', sizeGb: 10, multiattach: true },
  'volume.list': {},
  'volume.show': { volumeId: 'v-1' },
  'volume.delete': { volumeId: 'v-1' },
  'volume.extend': { volumeId: 'v-1', sizeGb: 20 },
  'admin.flavors.create': {
    name: 'avx',
    vcpus: 2,
    memoryMb: 2048,
    rootGb: 20,
    extraSpecs: { 'trait:HW_CPU_X86_AVX2': 'required' },
  },
  'admin.flavors.set': { name: 'avx', extraSpecs: { 'resources:CUSTOM_GPU': '1', 'hw:cpu_policy': null } },
  'admin.flavors.delete': { name: 'avx' },
  'admin.aggregates.create': { name: 'rack-1', availabilityZone: 'az1', metadata: { ssd: 'true' } },
  'admin.aggregates.list': {},
  'admin.aggregates.show': { aggregateId: 'a-1' },
  'admin.aggregates.set': { aggregateId: 'a-1', name: 'rack-one', availabilityZone: null, metadata: { ssd: null } },
  'admin.aggregates.addHost': { aggregateId: 'a-1', host: 'h1' },
  'admin.aggregates.removeHost': { aggregateId: 'a-1', host: 'h1' },
  'admin.aggregates.delete': { aggregateId: 'a-1' },
  'query.availabilityZones.list': {},
  'admin.schedule.explain': { flavor: 'avx', availabilityZone: 'az1', group: 'g-1', weigher: 'pack', limit: 50 },
  ...Object.fromEntries(Object.entries(PLACEMENT_SAMPLES).map(([op, s]) => [`placement.${op}`, s.request])),
};

const serverGroup = {
  id: 'g-1',
  name: 'web',
  policy: 'anti-affinity',
  rules: { maxServerPerHost: 2 },
  members: ['i-1'],
  project: 'demo',
  user: 'alice',
};
const volume = {
  id: 'v-1',
  name: 'data',
  sizeGb: 10,
  status: 'in-use',
  multiattach: false,
  bootable: false,
  attachments: [{ attachmentId: 'at-1', instanceId: 'i-1', host: 'h1', device: 'vdb' }],
  project: 'demo',
  user: 'alice',
};
const aggregate = {
  aggregateId: 'a-1',
  name: 'rack-1',
  availabilityZone: 'az1',
  metadata: { ssd: 'true' },
  hosts: ['h1'],
  createdAt: 5,
  updatedAt: 6,
};

const networkRec = { networkId: 'n-1', name: 'private', project: 'demo', shared: false, createdAt: 5 };
const subnetRec = {
  subnetId: 's-1',
  networkId: 'n-1',
  name: 'v4',
  project: 'demo',
  ipVersion: 4,
  cidr: '10.0.0.0/24',
  gatewayIp: '10.0.0.1',
  allocationPools: [{ start: '10.0.0.10', end: '10.0.0.200' }],
  createdAt: 5,
};
const portRec = {
  portId: 'p-1',
  networkId: 'n-1',
  project: 'demo',
  name: 'p',
  mac: 'fa:16:3e:01:02:03',
  fixedIps: [{ subnetId: 's-1', ipAddress: '10.0.0.12' }],
  status: 'ACTIVE',
  deviceId: 'i-1',
  deviceOwner: 'compute:nova',
  bindingHost: 'h1',
  createdAt: 5,
  updatedAt: 6,
};

export const REPLY_SAMPLES: Record<string, Record<string, unknown>> = {
  'net.network.create': { network: networkRec },
  'net.network.list': { networks: [networkRec] },
  'net.network.show': { network: networkRec },
  'net.network.delete': {},
  'net.subnet.create': { subnet: subnetRec },
  'net.subnet.list': { subnets: [subnetRec] },
  'net.subnet.show': { subnet: subnetRec },
  'net.subnet.delete': {},
  'net.port.create': { port: portRec },
  'net.port.list': { ports: [portRec] },
  'net.port.show': { port: portRec },
  'net.port.delete': {},
  'net.ipam.audit': { claims: 3, orphans: [{ key: 'ip.s-1.10-0-0-9', portId: 'p-2' }], released: 1 },
  'query.instances.list': { instances: [record] },
  'query.instances.show': { instance: record },
  'query.instances.consoleLog': { output: 'novactor guest i-1 up\r\n' },
  'rpc.consoleLog': { output: 'novactor guest i-1 up\r\n' },
  'ctl.status': {
    process: 'compute-h1',
    role: 'compute',
    pid: 42,
    state: 'running',
    actors: [{ name: 'tracker/h1', state: 'running', restarts: 0 }],
  },
  'ctl.kill': { actor: 'instance/i-1', killed: true },
  'tracker.instanceClaim': { usage: { vcpus: 1, memoryMb: 2048, diskGb: 20 } },
  'tracker.abortInstanceClaim': { usage: { vcpus: 0, memoryMb: 0, diskGb: 0 } },
  'tracker.updateUsage': { usage: { vcpus: 1, memoryMb: 2048, diskGb: 20 } },
  'tracker.report': trackerReport(),
  'rpc.destroyGuest': {},
  'rpc.preLiveMigration': {},
  'tracker.moveClaim': { usage: { vcpus: 3, memoryMb: 6144, diskGb: 60 } },
  'tracker.dropMoveClaim': { usage: { vcpus: 2, memoryMb: 4096, diskGb: 40 } },
  'tracker.finishMove': { usage: { vcpus: 2, memoryMb: 4096, diskGb: 40 } },
  'rpc.status': {
    host: 'h1',
    actors: ['i-1'],
    guests: [{ instanceId: 'i-1', powerState: 'running' }],
    tracker: trackerReport(),
  },
  'query.flavors.list': {
    flavors: [flavor, { ...flavor, name: 'avx', extraSpecs: { 'trait:HW_CPU_X86_AVX2': 'required' } }],
  },
  'group.create': { group: serverGroup },
  'group.list': { groups: [serverGroup] },
  'group.show': { group: serverGroup },
  'group.delete': {},
  'volume.create': { volume: { ...volume, status: 'available', attachments: [] } },
  'volume.list': { volumes: [volume] },
  'volume.show': { volume },
  'volume.delete': {},
  'volume.extend': { volume: { ...volume, sizeGb: 20 } },
  'admin.flavors.create': { flavor: { ...flavor, extraSpecs: { 'trait:HW_CPU_X86_AVX2': 'required' } } },
  'admin.flavors.set': { flavor },
  'admin.flavors.delete': {},
  'admin.aggregates.create': { aggregate },
  'admin.aggregates.list': { aggregates: [aggregate] },
  'admin.aggregates.show': { aggregate },
  'admin.aggregates.set': { aggregate },
  'admin.aggregates.addHost': { aggregate },
  'admin.aggregates.removeHost': { aggregate },
  'admin.aggregates.delete': {},
  'admin.schedule.explain': {
    request: { resources: { VCPU: 2, MEMORY_MB: 2048 }, required: ['!COMPUTE_STATUS_DISABLED'], memberOf: [['a-1']] },
    candidates: 2,
    truncated: false,
    hosts: [
      { host: 'h1', verdict: 'chosen', weight: 1 },
      { host: 'h2', verdict: 'dropped', reason: 'disabled by an operator' },
    ],
  },
  'query.availabilityZones.list': {
    zones: [
      { name: 'az1', hosts: 1 },
      { name: 'nova', hosts: 2 },
    ],
  },
  'image.create': { image: { ...uploaded, status: 'uploading' } },
  'image.upload': { imageId: 'img-2', offset: 524288, length: 3 },
  'image.finish': { image: uploaded },
  'image.delete': {},
  'query.images.list': {
    images: [
      {
        imageId: 'img-1',
        name: 'web-1-snap',
        project: 'demo',
        instanceId: 'i-1',
        kind: 'snapshot',
        status: 'active',
        sizeBytes: 1073741824,
        createdAt: 5,
        updatedAt: 6,
      },
    ],
  },
  'query.actions.list': {
    actions: [
      {
        action: 'stop',
        requestId: 'cmd-2',
        user: 'alice',
        startTime: 5,
        finishTime: 7,
        result: 'error',
        fault: { code: 'DriverFailure', message: 'x' },
        events: [{ type: 'instance.power_off.start', ts: 6 }],
      },
    ],
  },
  'query.migrations.list': {
    migrations: [
      {
        migrationId: 'm-1',
        instanceId: 'i-1',
        project: 'demo',
        kind: 'resize',
        status: 'finished',
        sourceHost: 'h1',
        destHost: 'h2',
        oldFlavor: flavor,
        newFlavor: { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 },
        commandId: 'cmd-5',
        createdAt: 1,
        updatedAt: 2,
      },
    ],
  },
  'admin.instances.list': { instances: [record] },
  'admin.instances.show': { instance: record },
  'admin.hosts.list': {
    hosts: [
      { host: 'h1', alive: true, enabled: false, forcedDown: false, reason: 'maintenance', lastSeen: 1767225600000 },
      { host: 'h2', alive: false, enabled: true, forcedDown: false, reason: null, lastSeen: null },
    ],
  },
  'admin.hosts.set': {
    host: { host: 'h1', enabled: false, forcedDown: false, reason: 'maintenance', updatedAt: 1767225600000 },
  },
  'query.quotas.show': {
    quota: {
      project: 'demo',
      limits: { instances: 5, cores: 10, ramMb: 4096 },
      usage: { instances: 2, cores: 2, ramMb: 1024 },
      defaults: false,
    },
  },
  'admin.quotas.show': {
    quota: {
      project: 'demo',
      limits: { instances: 5, cores: 10, ramMb: 4096 },
      usage: { instances: 2, cores: 2, ramMb: 1024 },
      defaults: false,
    },
  },
  'admin.quotas.set': {
    quota: {
      project: 'demo',
      limits: { instances: 5, cores: 10, ramMb: 4096 },
      usage: { instances: 2, cores: 2, ramMb: 1024 },
      defaults: false,
    },
  },
  error: { status: 409, code: 'placement.concurrent_update', message: 'generation mismatch' },
  ...Object.fromEntries(Object.entries(PLACEMENT_SAMPLES).map(([op, s]) => [`placement.${op}`, s.reply])),
};

export const TASK_SAMPLES: Record<string, Record<string, unknown>> = {
  'conductor.build': { instanceId: 'i-1', commandId: 'cmd-1', attempt: 1, tried: [], alternates: ['h2', 'h3'] },
  'host.build': { instanceId: 'i-1', commandId: 'cmd-1', epoch: 2, attempt: 1, maxAttempts: 3 },
  'host.command': { instanceId: 'i-1', commandId: 'cmd-2', action: 'stop', body: {}, user: 'alice', isAdmin: false },
  'host.adopt': { instanceId: 'i-1', epoch: 3 },
  'host.release': { instanceId: 'i-1', migrationId: 'm-1' },
};

function trackerReport() {
  return {
    host: 'h1',
    capacity: { vcpus: 64, memoryMb: 131072, diskGb: 1000 },
    usage: { vcpus: 1, memoryMb: 2048, diskGb: 20 },
    claims: [
      { type: 'instance', instanceId: 'i-1', migrationId: null, flavor: { vcpus: 1, memoryMb: 2048, rootGb: 20 } },
    ],
    lastAuditAt: null,
  };
}
