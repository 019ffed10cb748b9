/** The compute worker over the process driver: each guest is a real process, its power state read from /proc. */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, envelope, MessageKind, rpcType, subjects } from '../../../protocol/index.js';
import { startCloud } from '../../helpers/cloud.js';

const dir = mkdtempSync(join(tmpdir(), 'nv-proc-'));
const cloud = startCloud([{ name: 'ph', processStateDir: dir }]);
test.after.always(async () => {
  await (await cloud).stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'process driver - boot runs a guest process; pause stops it (SIGSTOP), unpause continues it, stop ends it, start brings a new one, delete removes it',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('real', 'm1.tiny');
    t.is((await c.client.final(id, cmd, 60_000)).type, 'instance.create.end');
    const guest = () => statusGuest(c, id);
    const first = await guest();
    t.is(first?.powerState, 'running');

    t.is((await c.act(id, 'pause')).type, 'instance.pause.end');
    t.is((await guest())?.powerState, 'paused');
    t.is((await c.act(id, 'unpause')).type, 'instance.unpause.end');
    t.is((await guest())?.powerState, 'running');
    t.is((await c.act(id, 'stop')).type, 'instance.power_off.end');
    t.is((await guest())?.powerState, 'shutdown');
    t.is((await c.act(id, 'start')).type, 'instance.power_on.end');
    t.is((await guest())?.powerState, 'running');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.is(await guest(), undefined);
  },
);

/** The guest as the worker's own status report shows it (rpc.status reads the driver). */
async function statusGuest(c: Awaited<typeof cloud>, id: string) {
  const req = envelope({
    id: crypto.randomUUID(),
    type: rpcType('status'),
    ts: Date.now(),
    project: '_system',
    user: 'test',
    body: {},
  });
  const msg = await c.client.nc.request(subjects().rpc('ph', 'status'), encodeMessage(req), { timeout: 5000 });
  const r = decodeMessage(msg.data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return (r.value.body as { guests: Array<{ instanceId: string; powerState: string }> }).guests.find(
    (g) => g.instanceId === id,
  );
}
