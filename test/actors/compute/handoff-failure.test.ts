/**
 * A revert whose hand-off back to the source cannot get its `host.adopt` task into NV_HOST
 * (chaos cluster seed 8: the stream's leader was the node lost for good, and no new leader came
 * for 6.6 s). The revert's transition had already written host := source, the destination's
 * guest and claim gone; the hand-off's publish timed out, the step failed, and the revert ended
 * in ERROR owned by the destination while its record named the source (I6), for good. The
 * hand-off now tries again until it is made, and a kill while it does changes nothing.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import test, { type ExecutionContext } from 'ava';
import { collect } from '../../../actors/audit/index.js';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { audit } from '../../../machines/audit/index.js';
import { subjects } from '../../../protocol/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { kill, type Kill } from '../../helpers/kills.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'v1' }, { name: 'v2' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

const HOST_STREAM = 'NV_HOST';

/**
 * While `during` runs, NV_HOST takes no task for `host`: a publish to it gets no PubAck, as when
 * the stream has no leader. A plain subscriber (which answers nothing) tells when one was tried.
 */
async function withoutHostTasks(c: Cloud, host: string, during: (tried: Promise<void>) => Promise<void>) {
  const jsm = await jetstreamManager(c.client.nc);
  const s = subjects();
  const config = (await jsm.streams.info(HOST_STREAM)).config;
  const sub = c.client.nc.subscribe(s.host(host), { max: 1 });
  const tried = (async () => {
    for await (const _ of sub) return;
  })();
  await jsm.streams.update(HOST_STREAM, { subjects: [...c.hosts.keys()].filter((h) => h !== host).map(s.hostAll) });
  try {
    await during(tried);
  } finally {
    await jsm.streams.update(HOST_STREAM, { subjects: config.subjects });
    sub.unsubscribe();
  }
}

/** Boots on v1, resizes to v2, and reverts with the hand-off back to v1 failing at first; `what` dies meanwhile. */
async function revertWithLostAdopt(t: ExecutionContext, what: Kill | 'nothing') {
  t.timeout(120_000);
  const c = await cloud;
  const a = new TestClient(c.client.nc, 'demo', 'admin'); // an admin may force the host
  const id = crypto.randomUUID();
  const boot = await a.command(id, 'boot', { name: `handoff-${what}`, flavor: 'm1.tiny', host: 'v1' });
  t.is((await a.final(id, boot)).type, 'instance.create.end');
  const resize = await a.command(id, 'resize', { flavor: 'm1.small' });
  t.is((await a.final(id, resize, 60_000)).type, 'instance.resize_finish.end');
  const h = hold.arm(id, 'handOff');
  const revert = await a.command(id, 'revert_resize');
  t.is(await h.reached, 'v2', 'the revert hands the instance back from the destination');
  await withoutHostTasks(c, 'v1', async (tried) => {
    h.release();
    await tried;
    if (what !== 'nothing') await (await kill(c, what, 'v2', 'v1', id))();
  });
  const end = await a.final(id, revert, 60_000);
  t.is(end.type, 'instance.resize_revert.end');
  t.like((await c.stores.instances.get(id))?.value, { vmState: 'active', host: 'v1', owner: 'host:v1' });
  t.is(await c.migrationStatus(migrationIdOf(id, resize)), 'reverted');
  await nothingToRepair(t, c, ['v1', 'v2']);
  t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
}

test.serial('hand-off failure - a revert whose adopt task gets no PubAck at first still ends home, owned there', (t) =>
  revertWithLostAdopt(t, 'nothing'),
);

for (const what of ['instance', 'worker'] as const)
  test.serial(
    `hand-off failure - killed (${what}) while the hand-off waits for its PubAck: the revert ends home`,
    (t) => revertWithLostAdopt(t, what),
  );
