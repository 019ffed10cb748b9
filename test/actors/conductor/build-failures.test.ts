/**
 * The build-failure weigher (docs/scheduling.md): a host whose spawns fail counts them in its
 * service record (Nova's `failed_builds`), the conductor then places builds elsewhere even where
 * free RAM says otherwise; one successful spawn there clears the count.
 */
import test from 'ava';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { TestClient } from '../../helpers/client.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([
  { name: 'f1', ramMb: 65_536, fake: { failSpawnPattern: /^flaky/ } },
  { name: 'f2', ramMb: 16_384 },
]);
test.after.always(async () => (await cloud).stop());

const failedBuilds = async (c: Cloud, host: string) =>
  (await c.stores.services.get(`compute-${host}`))?.value.failedBuilds ?? 0;
const untilFailedBuilds = (c: Cloud, host: string, n: number) =>
  eventually(async () => {
    const now = await failedBuilds(c, host);
    if (now !== n) throw new Error(`${host} reports ${now} failed builds, waiting for ${n}`);
  });

test.serial('a host that failed a build goes last until one succeeds there', async (t) => {
  const c = await cloud;
  // f1 has the most free RAM: the first try goes there, fails to spawn, and is rescheduled.
  const { id, cmd } = await c.boot('flaky-1', 'm1.tiny');
  const first = await c.client.final(id, cmd, 30_000);
  t.is(first.type, 'instance.create.end', JSON.stringify(first.body));
  t.is(first.body['host'], 'f2');
  await untilFailedBuilds(c, 'f1', 1);
  // A healthy build now goes to f2 although f1 has four times its free RAM.
  for (let i = 0; i < 2; i++) {
    const b = await c.boot(`ok-${i}`, 'm1.tiny');
    t.is((await c.client.final(b.id, b.cmd, 30_000)).body['host'], 'f2');
  }
  t.is(await failedBuilds(c, 'f1'), 1, 'f1 was not tried again');
  // An admin's build on f1 succeeds there: the count is cleared and f1 leads again.
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const forced = await c.boot('ok-forced', 'm1.tiny', { host: 'f1' }, { user: 'admin' });
  t.is((await admin.final(forced.id, forced.cmd, 30_000)).body['host'], 'f1');
  await untilFailedBuilds(c, 'f1', 0);
  const after = await c.boot('ok-after', 'm1.tiny');
  t.is((await c.client.final(after.id, after.cmd, 30_000)).body['host'], 'f1');
});
