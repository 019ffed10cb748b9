/**
 * Replayed commands (issue 8): a command published again under a new Nats-Msg-Id — past
 * JetStream's dedup — after it finished is neither carried out nor answered again; a boot
 * of an existing instance id under a new command id is refused.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { commandType, encodeMessage, envelope, type InstanceAction } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([{ name: 'r1' }]);
test.after.always(async () => (await cloud).stop());

/** Publishes the very command `id` again (same envelope), under a fresh Nats-Msg-Id. */
async function replay(
  c: Cloud,
  instanceId: string,
  action: InstanceAction,
  id: string,
  body: Record<string, unknown> = {},
): Promise<void> {
  const env = envelope({ id, type: commandType(action), ts: Date.now(), project: 'demo', user: 'alice', body });
  const ack = await c.client.js.publish(`nv.cmd.demo.${instanceId}.${action}`, encodeMessage(env), {
    msgID: randomUUID(),
  });
  if (ack.duplicate) throw new Error('the replay was deduplicated by the stream: not a replay');
}

/** Waits until the gateway and the host have taken and acknowledged everything sent to them. */
async function quiet(c: Cloud): Promise<void> {
  const jsm = await jetstreamManager(c.client.nc);
  await eventually(async () => {
    for (const [stream, durable] of [
      ['NV_CMD', 'gateway'],
      ['NV_HOST', 'host-r1'],
      ['NV_CONDUCTOR', 'conductor'],
    ] as const) {
      const i = await jsm.consumers.info(stream, durable);
      if (i.num_pending > 0 || i.num_ack_pending > 0) throw new Error(`${durable} still busy`);
    }
  });
}

const byCorr = async (c: Cloud, instanceId: string, corr: string) =>
  (await c.client.events(instanceId)).filter((e) => e.corr === corr).map((e) => e.type);

test.serial(
  'replay - a finished boot, stop and delete replayed under new message ids change nothing and get no second answer',
  async (t) => {
    const c = await cloud;
    const { id, cmd: boot } = await c.boot('replayed', 'm1.tiny', {});
    t.is((await c.client.final(id, boot)).type, 'instance.create.end');
    const stop = await c.client.command(id, 'stop');
    t.is((await c.client.final(id, stop)).type, 'instance.power_off.end');
    const start = await c.client.command(id, 'start');
    t.is((await c.client.final(id, start)).type, 'instance.power_on.end');
    await quiet(c);
    const before = (await c.stores.instances.get(id))!;
    const bootEvents = await byCorr(c, id, boot);
    const stopEvents = await byCorr(c, id, stop);
    const usage = await c.usageOf('r1');

    await replay(c, id, 'boot', boot, { name: 'replayed', flavor: 'm1.tiny' });
    await replay(c, id, 'stop', stop);
    await quiet(c);
    const after = (await c.stores.instances.get(id))!;
    t.is(after.revision, before.revision, 'the record was not written');
    t.like(after.value, { vmState: 'active', powerState: 'running', epoch: before.value.epoch });
    t.deepEqual(await byCorr(c, id, boot), bootEvents, 'no new event for the replayed boot');
    t.deepEqual(await byCorr(c, id, stop), stopEvents, 'no new event for the replayed stop');
    t.deepEqual(await c.usageOf('r1'), usage, 'placement holds the same');

    // A new boot command for the same instance id is refused.
    const again = await c.client.command(id, 'boot', { name: 'again', flavor: 'm1.tiny' });
    t.like(await c.client.final(id, again), { type: 'command.rejected', body: { code: 'InstanceExists' } });

    const del = await c.client.command(id, 'delete');
    t.is((await c.client.final(id, del)).type, 'instance.delete.end');
    await quiet(c);
    const deleted = (await c.stores.instances.get(id))!;
    const delEvents = await byCorr(c, id, del);
    await replay(c, id, 'delete', del);
    await replay(c, id, 'boot', boot, { name: 'replayed', flavor: 'm1.tiny' });
    await quiet(c);
    t.is((await c.stores.instances.get(id))!.revision, deleted.revision);
    t.deepEqual(await byCorr(c, id, del), delEvents, 'the replayed delete is not answered again');
    t.deepEqual(await byCorr(c, id, boot), bootEvents, 'nor is a boot replayed after the delete');
    t.deepEqual(await c.usageOf('r1'), { DISK_GB: 0, MEMORY_MB: 0, VCPU: 0 }, 'nothing allocated again');

    // A new delete of the deleted instance is refused; nothing is deleted twice.
    const del2 = await c.client.command(id, 'delete');
    t.like(await c.client.final(id, del2), { type: 'command.rejected', body: { code: 'InstanceNotFound' } });
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
  },
);
