/**
 * The shelved-offload periodic (docs/instances.md, Periodic tasks; Nova's _poll_shelved_instances) on a host
 * whose shelved_offload_time is short: a shelved instance stays shelved, then is offloaded by
 * the host itself, through its actor.
 */
import test from 'ava';
import { recordWhere, startCloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'sh' }], { periodics: { shelvedOffloadMs: 800, shelvedPollMs: 300 } });
test.after.always(async () => (await cloud).stop());

test('shelved offload - a shelved instance is offloaded once shelved longer than shelved_offload_time: nothing held, image kept', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('idle-shelf', 'm1.tiny');
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  const end = await c.act(id, 'shelve');
  t.is(end.type, 'instance.shelve.end', 'the shelve itself does not offload');
  t.like(end.body, { vmState: 'shelved', host: 'sh' });
  const rec = await recordWhere(c, id, (r) => r.vmState === 'shelved_offloaded' && r.owner === 'conductor');
  t.is(rec.host, null);
  t.deepEqual((await c.placement.call('allocations.get', { consumer: id })).allocations, {});
  t.is(c.hosts.get('sh')!.fake.guest(id), undefined);
  const offload = (await c.client.events(id)).find((e) => e.type === 'instance.shelve_offload.end');
  t.truthy(offload, 'the periodic offload has its own terminal event');
  t.regex(String(offload?.corr), /^shelve-offload:/);
  t.is((await c.stores.images.entries()).filter((e) => e.value.instanceId === id).length, 1);
  t.is((await c.act(id, 'unshelve')).type, 'instance.unshelve.end');
});
