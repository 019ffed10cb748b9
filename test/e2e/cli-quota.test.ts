/**
 * `novactor quota show|set` as a real child process against a private nats-server with
 * placement, the gateway and the conductor in-process (no compute host: every boot ends in
 * ERROR NoValidHost, an instance that counts but holds no cores or RAM).
 */
import test from 'ava';
import type { QuotaView } from '../../protocol/index.js';
import { startControlPlane } from '../helpers/control-plane.js';
import type { Ran } from '../helpers/processes.js';

const setup = startControlPlane('quota');
test.after.always(async () => (await setup).stop());

const cli = async (args: string[]): Promise<Ran> => (await setup).cli(args);
const quotaOf = (r: Ran): QuotaView => (JSON.parse(r.out) as { quota: QuotaView }).quota;

test('cli quota - show the defaults, set limits, count ERROR instances without their cores, refuse past the limit', async (t) => {
  const fresh = await cli(['quota', 'show', '--project', 'qp', '--json']);
  t.is(fresh.code, 0, fresh.err);
  t.deepEqual(quotaOf(fresh), {
    project: 'qp',
    limits: { instances: 10, cores: 20, ramMb: 51200 },
    usage: { instances: 0, cores: 0, ramMb: 0 },
    defaults: true,
  });

  const set = await cli(['quota', 'set', '--project', 'qp', '--instances', '2', '--ram', '4096', '--json']);
  t.is(set.code, 0, set.err);
  t.like(quotaOf(set), { limits: { instances: 2, cores: 20, ramMb: 4096 }, defaults: false });

  for (const name of ['a', 'b'])
    t.is(
      (await cli(['boot', name, '--flavor', 'm1.tiny', '--project', 'qp', '--wait'])).code,
      1,
      'NoValidHost: no compute host',
    );
  const used = quotaOf(await cli(['quota', 'show', '--project', 'qp', '--json']));
  t.deepEqual(
    used.usage,
    { instances: 2, cores: 0, ramMb: 0 },
    'instances in ERROR count; their cores and RAM do not (nothing holds them)',
  );

  const over = await cli(['boot', 'c', '--flavor', 'm1.tiny', '--project', 'qp', '--wait']);
  t.is(over.code, 1);
  t.regex(over.err, /QuotaExceeded: quota exceeded for instances in project qp: instances 2\/2/);

  const text = await cli(['quota', 'show', '--project', 'qp']);
  t.regex(text.out, /^instances\s+2\s+2$/m);
  t.regex(text.out, /^cores\s+0\s+20$/m);
});

test('cli quota - a tenant reads its own quota; only an admin sets one', async (t) => {
  const own = await cli(['quota', 'show', '--project', 'tq', '--user', 'alice', '--json']);
  t.is(own.code, 0, own.err);
  t.like(quotaOf(own), { project: 'tq', defaults: true });
  const refused = await cli(['quota', 'set', '--project', 'tq', '--instances', '1', '--user', 'alice']);
  t.is(refused.code, 1);
  t.regex(refused.err, /403 NotAuthorized/);
  t.like(quotaOf(await cli(['quota', 'show', '--project', 'tq', '--json'])), { defaults: true }, 'nothing was written');
});

test('cli quota - bad limits are usage errors (exit 2) and change nothing', async (t) => {
  for (const args of [['--instances', '-2'], ['--cores', 'many'], ['--ram', '1.5'], []]) {
    const r = await cli(['quota', 'set', '--project', 'bq', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    t.regex(r.err, /^novactor: /);
  }
  t.like(quotaOf(await cli(['quota', 'show', '--project', 'bq', '--json'])), { defaults: true });
});
