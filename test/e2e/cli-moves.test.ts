/**
 * The move commands of the CLI (`resize`, `confirm`, `revert`, `migrate`, `migrations`) as a
 * real child process against a private nats-server with placement, the gateway and the
 * conductor in-process. No compute host: what is tested is what the gateway decides and what
 * the CLI prints and exits with.
 */
import test from 'ava';
import { startControlPlane } from '../helpers/control-plane.js';
import { randomUUID } from 'node:crypto';
import type { InstanceRecord, MigrationRecord } from '../../protocol/index.js';
import { type Ran } from '../helpers/processes.js';

const small = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const medium = { name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 };

const setup = startControlPlane('cli-moves');
test.after.always(async () => (await setup).stop());

type Run = Ran;

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return (await setup).cli(args, env);
}

/** An active m1.small instance on h1 (its record only: no host runs it). */
async function instance(project = 'demo'): Promise<string> {
  const { stores } = await setup;
  const id = randomUUID();
  const r: InstanceRecord = {
    instanceId: id,
    name: 'web',
    project,
    user: 'alice',
    host: 'h1',
    node: 'h1',
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    flavor: small,
    image: null,
    metadata: {},
    locked: false,
    createdAt: 1,
    updatedAt: 1,
    createdBy: randomUUID(),
    forcedHost: null,
    owner: 'host:h1',
    epoch: 1,
  };
  await stores.instances.create(id, r);
  return id;
}

test('cli moves - usage errors exit 2 before connecting', async (t) => {
  for (const args of [
    ['resize', 'x'],
    ['resize', 'a.b', 'm1.small'],
    ['resize', 'x', ''],
    ['migrate', 'x', '--host', 'a.b'],
    ['confirm'],
    ['revert', 'a b'],
    ['migrations', '--instance', 'a.b'],
    ['resize', 'x', 'm1.small', '--timeout', '0'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    t.regex(r.err, /novactor|error/, args.join(' '));
  }
});

test('cli moves - resize --wait to an unknown flavor is FlavorNotFound, to the same flavor InvalidInput: exit 1', async (t) => {
  const id = await instance();
  const unknown = await cli(['resize', id, 'm9.huge', '--wait']);
  t.is(unknown.code, 1, unknown.err);
  t.regex(unknown.err, /command\.rejected: FlavorNotFound: /);
  const same = await cli(['resize', id, 'm1.small', '--wait', '--json']);
  t.is(same.code, 1, same.err);
  const o = JSON.parse(same.out) as {
    action: string;
    ok: boolean;
    event: { type: string; body: { code: string; final: boolean } };
  };
  t.like(o, {
    action: 'resize',
    ok: false,
    event: { type: 'command.rejected', body: { code: 'InvalidInput', final: true } },
  });
});

test('cli moves - migrate --host by a tenant is NotAuthorized; confirm and revert of an unknown instance are InstanceNotFound', async (t) => {
  const id = await instance();
  const forced = await cli(['migrate', id, '--host', 'h2', '--wait'], { NOVACTOR_USER: 'alice' });
  t.is(forced.code, 1, forced.err);
  t.regex(forced.err, /command\.rejected: NotAuthorized: /);
  for (const cmd of ['confirm', 'revert']) {
    const r = await cli([cmd, randomUUID(), '--wait']);
    t.is(r.code, 1, r.err);
    t.regex(r.err, /command\.rejected: InstanceNotFound: /, cmd);
  }
});

test('cli moves - resize without --wait prints the ids once stored: exit 0', async (t) => {
  const id = await instance();
  const r = await cli(['resize', id, 'm1.medium', '--json']);
  t.is(r.code, 0, r.err);
  t.like(JSON.parse(r.out), { instanceId: id, action: 'resize' });
});

test("cli moves - migrations: empty, then the project's records as a table and as JSON, filtered by --instance", async (t) => {
  const { stores } = await setup;
  const project = 'movesproj';
  const empty = await cli(['migrations', '--project', project]);
  t.is(empty.code, 0, empty.err);
  t.is(empty.out.trim(), 'ID  INSTANCE  KIND  STATUS  SOURCE  DEST  OLD FLAVOR  NEW FLAVOR  UPDATED');
  const emptyJson = await cli(['migrations', '--project', project, '--json']);
  t.is(emptyJson.code, 0, emptyJson.err);
  t.deepEqual(JSON.parse(emptyJson.out), { migrations: [] });

  const a = randomUUID();
  const mig = (instanceId: string, p: string, at: number, over: Partial<MigrationRecord> = {}): MigrationRecord => ({
    migrationId: randomUUID(),
    instanceId,
    project: p,
    kind: 'resize',
    status: 'finished',
    sourceHost: 'h1',
    destHost: 'h2',
    oldFlavor: small,
    newFlavor: medium,
    commandId: randomUUID(),
    createdAt: at,
    updatedAt: at,
    ...over,
  });
  const first = mig(a, project, 1000);
  const second = mig(randomUUID(), project, 2000, {
    kind: 'migration',
    status: 'pre-migrating',
    destHost: null,
    newFlavor: small,
  });
  const foreign = mig(randomUUID(), 'someoneelse', 500);
  for (const m of [second, first, foreign]) await stores.migrations.create(m.migrationId, m);

  const all = await cli(['migrations', '--project', project, '--json']);
  t.is(all.code, 0, all.err);
  t.deepEqual(JSON.parse(all.out), { migrations: [first, second] });
  const text = await cli(['migrations', '--project', project]);
  t.is(text.code, 0, text.err);
  const lines = text.out.trim().split('\n');
  t.is(lines.length, 3);
  t.regex(
    lines[1]!,
    new RegExp(
      `^${first.migrationId}\\s+${a}\\s+resize\\s+finished\\s+h1\\s+h2\\s+m1\\.small\\s+m1\\.medium\\s+1970-01-01T00:00:01\\.000Z$`,
    ),
  );
  t.regex(lines[2]!, /\smigration\s+pre-migrating\s+h1\s+-\s+m1\.small\s+m1\.small\s/);
  const one = await cli(['migrations', '--project', project, '--instance', a, '--json']);
  t.deepEqual(JSON.parse(one.out), { migrations: [first] });
});
