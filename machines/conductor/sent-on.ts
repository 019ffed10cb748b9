/**
 * A command a host sent on to the conductor because the instance's record had left it (an
 * offload's hand-back, a reschedule) and that only a host carries out (stop, reboot, resize,
 * shelve_offload…). Deletes, evacuations, unshelves, locks have their own decisions. Before,
 * every such command was taken for a delete: a shelve_offload racing the periodic offload
 * deleted the instance.
 */
import type { HostCommandTask, InstanceRecord } from '../../protocol/schemas/internal.js';
import { commandHandled } from '../gateway/index.js';
import { ack, ownerHost, reject, type Plan, type Stored } from './plan.js';

export function decideSentOn(s: {
  readonly task: HostCommandTask;
  readonly stored: Stored<InstanceRecord> | undefined;
}): Plan {
  const { task, stored } = s;
  const id = task.instanceId;
  if (!stored) return reject('InstanceNotFound', `instance ${id} not found`);
  const rec = stored.value;
  // Taken by the instance's machine before its record left the host: done, answered there.
  if (commandHandled(rec, task.commandId)) return ack();
  if (rec.vmState === 'deleted') return reject('InstanceNotFound', `instance ${id} not found`);
  // A host owns it again (an unshelve, a new build): that host's actor judges the command.
  if (rec.owner !== 'conductor')
    return ack({ kind: 'route', host: ownerHost(rec), msgId: `${task.commandId}:route:${rec.epoch}`, task });
  return reject(
    'InstanceInvalidState',
    `instance ${id} is ${rec.vmState} and on no host now: ${task.action} cannot run ` +
      '(the instance changed since the command was accepted)',
  );
}
