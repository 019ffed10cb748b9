/** How records look on the wire: the lifecycle event body and the query view. */
import type { InstanceEventBody, InstanceRecord, InstanceRecordView } from '../../protocol/index.js';

export function eventBodyOf(r: InstanceRecord, extra: { final?: true } = {}): InstanceEventBody {
  return {
    instanceId: r.instanceId,
    name: r.name,
    host: r.host,
    node: r.node,
    vmState: r.vmState,
    taskState: r.taskState,
    powerState: r.powerState,
    flavor: r.flavor,
    ...(r.fault ? { fault: r.fault } : {}),
    ...extra,
  };
}

export function recordView(r: InstanceRecord): InstanceRecordView {
  return {
    ...eventBodyOf(r),
    project: r.project,
    user: r.user,
    image: r.image,
    metadata: r.metadata,
    locked: r.locked,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(r.ports && r.ports.length > 0 ? { ports: r.ports } : {}),
    ...(r.blockDevices ? { blockDevices: r.blockDevices } : {}),
  };
}
