/** Moves with the process driver: a live migration really moves the guest process to the other host. */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, envelope, MessageKind, rpcType, subjects } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';

const dir = mkdtempSync(join(tmpdir(), 'nv-proc-moves-'));
const cloud = startCloud([
  { name: 'pa', processStateDir: join(dir, 'pa') },
  { name: 'pb', processStateDir: join(dir, 'pb') },
]);
test.after.always(async () => {
  await (await cloud).stop();
  rmSync(dir, { recursive: true, force: true });
});

async function guestsOf(c: Cloud, host: string) {
  const req = envelope({
    id: crypto.randomUUID(),
    type: rpcType('status'),
    ts: Date.now(),
    project: '_system',
    user: 'test',
    body: {},
  });
  const msg = await c.client.nc.request(subjects().rpc(host, 'status'), encodeMessage(req), { timeout: 5000 });
  const r = decodeMessage(msg.data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return (r.value.body as { guests: Array<{ instanceId: string; powerState: string }> }).guests;
}

test.serial(
  'process driver - live migration moves the guest process; cold migration and revert bring it back',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('wanderer', 'm1.tiny');
    const home = String((await c.client.final(id, cmd, 60_000)).body['host']);
    const away = home === 'pa' ? 'pb' : 'pa';
    t.deepEqual(
      (await guestsOf(c, home)).map((g) => [g.instanceId, g.powerState]),
      [[id, 'running']],
    );

    const lm = await c.act(id, 'live_migrate', {}, { timeoutMs: 60_000 });
    t.is(lm.type, 'instance.live_migration_post.end', JSON.stringify(lm.body['fault'] ?? ''));
    t.deepEqual(await guestsOf(c, home), [], 'the source process is gone');
    t.deepEqual(
      (await guestsOf(c, away)).map((g) => [g.instanceId, g.powerState]),
      [[id, 'running']],
      'a running process on the destination',
    );

    t.is((await c.act(id, 'migrate', {}, { timeoutMs: 60_000 })).type, 'instance.resize_finish.end');
    t.deepEqual(
      (await guestsOf(c, home)).map((g) => g.powerState),
      ['running'],
    );
    t.deepEqual(
      (await guestsOf(c, away)).map((g) => g.powerState),
      ['shutdown'],
      'the source keeps its stopped guest until confirm or revert',
    );
    t.is((await c.act(id, 'revert_resize', {}, { timeoutMs: 60_000 })).type, 'instance.resize_revert.end');
    t.deepEqual(await guestsOf(c, home), []);
    t.deepEqual(
      (await guestsOf(c, away)).map((g) => g.powerState),
      ['running'],
    );
    t.is((await c.act(id, 'delete', {}, { timeoutMs: 60_000 })).type, 'instance.delete.end');
    t.deepEqual([...(await guestsOf(c, 'pa')), ...(await guestsOf(c, 'pb'))], []);
  },
);
