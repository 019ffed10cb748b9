/**
 * Upgrades must not strand an instance (issue 14, item 5): every frozen record of
 * test/fixtures/records/ (one per in-flight state of every operation, as an earlier version
 * stored it) is read back from `nv-instances` on a real server by the bucket every worker
 * reads through (upgrades applied), restored by InstanceActor.restore as a worker restores it,
 * and driven, every step succeeding, to its operation's terminal event.
 *
 * A fixture that fails here means a change broke records already stored in clouds that
 * run today's version. Do NOT regenerate it: add an upgrade (actors/records/upgrades.ts).
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { InstanceActor, type StepOutcome, type StopReason } from '../../../actors/instance/instance-actor.js';
import { openStores } from '../../../actors/records/stores.js';
import { bootstrap } from '../../../actors/runtime/bootstrap.js';
import { systemClock } from '../../../actors/runtime/clock.js';
import { eventPublisher, type EventPublisher } from '../../../actors/runtime/events.js';
import {
  CLAIM_RELEASED,
  holdsHostClaim,
  inFlightStep,
  instanceMachine,
  statePath,
  type StepName,
} from '../../../machines/instance/index.js';
import { decodeValue } from '../../../protocol/index.js';
import { MANIFEST, RECORDS_DIR, wantedFixtures, type FixtureEntry } from '../../fixtures/generate-records.js';
import { LARGE } from '../../machines/instance/model.js';
import { eventually } from '../../helpers/eventually.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const RULE =
  'Do not regenerate a frozen fixture: add an upgrade to actors/records/upgrades.ts that reads the old record (docs/testing.md, "Persisted-record fixtures").';

const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as FixtureEntry[];

/** What a step returns when it succeeds, where the machine reads a result. */
const RESULTS: Partial<Record<StepName, Record<string, unknown>>> = {
  moveClaim: { dest: 'h2', flavor: LARGE },
  uploadImage: { imageId: 'img-restored' },
  handBack: { handedOff: true },
};

/** States an operation ends in without a terminal event of its own: the conductor owns the build now. */
const HANDED_TO_CONDUCTOR = new Set(['rescheduled']);

test('record fixtures - the manifest and the files agree, and every in-flight state of every operation has a fixture', (t) => {
  const files = readdirSync(RECORDS_DIR)
    .filter((f) => f.endsWith('.msgpack'))
    .sort();
  t.deepEqual(
    files,
    manifest.map((f) => f.file).sort(),
    'test/fixtures/records/index.json lists exactly the fixture files',
  );
  const missing = [...wantedFixtures().keys()].filter((f) => !files.includes(f));
  t.deepEqual(
    missing,
    [],
    'a new in-flight state has no fixture yet: run `npx tsc -p tsconfig.json && node dist/test/fixtures/generate-records.js` (it adds only missing fixtures)',
  );
});

test("record fixtures - each frozen record is restored by today's code and driven to its terminal event", async (t) => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'fixtures');
  t.teardown(async () => {
    await nc.close();
    await s.cleanup();
  });
  await bootstrap(nc, { replicas: 1 });
  const stores = await openStores(nc);
  const real = eventPublisher(jetstream(nc), systemClock);
  t.true(manifest.length > 0);
  for (const f of manifest) {
    const bytes = readFileSync(join(RECORDS_DIR, f.file));
    const raw = decodeValue(bytes);
    const id = raw.ok ? (raw.value as { instanceId?: string }).instanceId : undefined;
    if (!id) {
      t.fail(`${f.file} is not a msgpack instance record. ${RULE}`);
      continue;
    }
    await stores.instances.kv.put(id, bytes); // exactly the bytes an earlier version stored
    const problem = await restoreAndDrive(f, id).catch((err: unknown) => `${String(err)}`);
    t.is(problem, undefined, `${f.file} (${f.operation} waiting on ${f.step} in ${f.state}): ${problem}. ${RULE}`);
    await stores.instances.kv.delete(id);
  }

  async function restoreAndDrive(f: FixtureEntry, id: string): Promise<string | undefined> {
    const cur = await stores.instances.get(id); // decode, upgrade, validate: as every worker reads
    if (!cur) return 'the bucket does not return it';
    const persisted = cur.value.machine;
    const tagged = instanceMachine.resolveState(persisted as never).hasTag(CLAIM_RELEASED);
    if (holdsHostClaim(persisted) === tagged)
      return `holdsHostClaim says ${!tagged}, the state's tag says the claim is ${tagged ? 'released' : 'held'}`;
    const published: { type: string; corr?: string | undefined; final: boolean }[] = [];
    const events: EventPublisher = {
      instance: (e) => (published.push({ type: e.type, corr: e.corr, final: e.body.final === true }), real.instance(e)),
      rejected: (e) => (published.push({ type: 'command.rejected', corr: e.corr, final: true }), real.rejected(e)),
    };
    const ran: StepName[] = [];
    let stopped: StopReason | undefined;
    const actor = await InstanceActor.restore(
      {
        instances: stores.instances,
        events,
        clock: systemClock,
        executor: {
          run: (step): Promise<StepOutcome> => {
            ran.push(step);
            const result = RESULTS[step];
            return Promise.resolve(result ? { ok: true, result } : { ok: true });
          },
        },
        onStopped: (_id, why) => (stopped = why),
        log: (line, err) => t.log(line, err ?? ''),
      },
      cur,
    );
    if (ran[0] !== f.step) return `the restored actor re-issued ${ran[0] ?? 'no step'}, not ${f.step}`;
    const corr = actor.state.context.op?.id;
    if (corr === undefined) return 'the restored snapshot has no operation in flight';
    const finals = () => published.filter((e) => e.final && e.corr === corr);
    await eventually(
      async () => {
        const resting = actor.finished || inFlightStep(actor.state) === undefined;
        const ended = finals().length > 0 || HANDED_TO_CONDUCTOR.has(statePath(actor.state.value));
        if (!resting || !ended)
          throw new Error(`still in ${statePath(actor.state.value)} after steps ${ran.join(', ')}`);
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    if (finals().length > 1) return `${finals().length} terminal events for ${corr}`;
    if (stopped === 'stale' || stopped === 'crashed') return `the actor stopped ${stopped}`;
    if (stopped === 'handedOff') return undefined; // the hand-back step gave the record to the conductor: no write of ours
    const after = await stores.instances.get(id);
    if (!after || after.revision <= cur.revision) return 'the driven actor wrote nothing back';
    return undefined;
  }
});
