/**
 * The conductor's claim of an evacuation's destination when that destination's tracker does
 * not answer, or its answer is lost with the conductor, or it refuses. Placement gives the
 * instance consumer room on the destination first, then the destination's tracker is asked for
 * its side of the move (opId `<instance>:<command>:evacuateDest`). No answer is no refusal: the
 * tracker may have applied the claim. Before, an unanswered call was taken for a refusal (the
 * room given back, the tracker left holding a claim nothing used), and a run after one that died
 * before the answer took placement's room for the tracker's yes without asking it (the
 * instance went to a host whose tracker counted nothing of it); either way the host's audit
 * had to repair its claims.
 */
import test, { type ExecutionContext } from 'ava';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { PointHold } from '../../helpers/point-hold.js';

const HOSTS = ['e1', 'e2', 'e3'];
const hold = new PointHold();
const cloud = startCloud(
  HOSTS.map((name) => ({ name, pausable: true })),
  { killPoint: hold.hook },
);
test.after.always(async () => (await cloud).stop());
const admin = async () => new TestClient((await cloud).client.nc, 'demo', 'admin');
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

const claimsOf = async (c: Cloud, host: string, id: string) =>
  (await c.worker(host).tracker.get())
    .report()
    .claims.filter((x) => x.instanceId === id)
    .map((x) => x.type);

const hostsOf = async (c: Cloud, id: string) => {
  const providers = (await c.placement.call('providers.list', {})).providers;
  return Object.keys((await c.placement.call('allocations.get', { consumer: id })).allocations).map(
    (u) => providers.find((p) => p.uuid === u)?.name,
  );
};

/** Boots on e1 and takes e1 down (its worker killed, forced down): ready to be evacuated. */
async function onDeadE1(name: string): Promise<string> {
  const c = await cloud;
  const a = await admin();
  const id = crypto.randomUUID();
  const end = await a.final(id, await a.command(id, 'boot', { name, flavor: 'm1.tiny', host: 'e1' }));
  if (end.type !== 'instance.create.end') throw new Error(`boot failed: ${JSON.stringify(end.body)}`);
  c.killWorker('e1');
  await c.forceDown('e1', true);
  return id;
}

/** The evacuation ended on `dest`: only its tracker holds the instance, and no host's audit repairs anything. */
async function evacuatedTo(
  t: ExecutionContext,
  c: Cloud,
  id: string,
  cmd: string,
  dest: string,
  cleanUp: () => Promise<void> = async () => undefined,
) {
  const a = await admin();
  const end = await a.final(id, cmd, 150_000);
  t.is(end.type, 'instance.evacuate.end', JSON.stringify(end.body));
  t.like(end.body, { host: dest, vmState: 'active' });
  t.deepEqual(await hostsOf(c, id), [dest], 'placement holds the instance on the destination only');
  for (const h of ['e2', 'e3']) t.deepEqual(await claimsOf(c, h, id), h === dest ? ['instance'] : [], `${h}'s claims`);
  await cleanUp();
  await c.forceDown('e1', false);
  await c.startWorker('e1');
  await nothingToRepair(t, c, HOSTS);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
}

const destApplied = (id: string) =>
  hold.arm(
    'tracker.applied',
    (x) => x.instanceId === id && x.command === 'moveClaim' && x.opId.endsWith(':evacuateDest'),
  );

// e2 cut off once it applied the claim: the conductor's call gets no answer (its deadline runs
// out). Before, it took that for a refusal: the room on e2 given back, no other host allowed
// (the evacuation names e2), NoValidHost, and e2's tracker kept a claim for nothing.
test.serial(
  'evacuate claim - a destination that applied the claim but did not answer: it is asked again',
  async (t) => {
    t.timeout(240_000);
    const c = await cloud;
    const id = await onDeadE1('ec-unanswered');
    const applied = destApplied(id);
    const cmd = await (await admin()).command(id, 'evacuate', { host: 'e2' });
    t.is(await applied.reached, 'e2');
    // The conductor's next read of the instance's allocations comes once its call to e2 ended.
    const callEnded = hold.arm('placement.answered', (x) => x.op === 'allocations.get' && x.consumer === id);
    c.pause('e2', true);
    try {
      applied.release();
      t.is(await callEnded.reached, 'conductor');
    } finally {
      c.pause('e2', false);
    }
    callEnded.release();
    await evacuatedTo(t, c, id, cmd, 'e2');
  },
);

// The conductor dies once placement gave the instance consumer room on e2, before e2's tracker
// was asked (its continuation is held until the end, as if it never ran again). Before, the run
// of the task redelivered to a new conductor took that room for e2's yes without asking: only
// e2's own fallback at the spawn (an instance claim once finishMove found no move claim) made its
// tracker count the instance. Now the next run asks e2's tracker for the move claim.
test.serial(
  'evacuate claim - the conductor killed once placement gave room, before asking: the next asks',
  async (t) => {
    t.timeout(240_000);
    const c = await cloud;
    const id = await onDeadE1('ec-killed');
    const roomGiven = hold.arm('placement.answered', (x) => x.op === 'allocations.put' && x.consumer === id);
    const cmd = await (await admin()).command(id, 'evacuate', { host: 'e2' });
    t.is(await roomGiven.reached, 'conductor');
    t.deepEqual((await hostsOf(c, id)).sort(), ['e1', 'e2'], 'the instance consumer holds room on e2');
    c.killConductor();
    let asked: string | undefined;
    const applied = destApplied(id);
    void applied.reached.then((host) => ((asked = host), applied.release()));
    await c.startConductor();
    try {
      await evacuatedTo(t, c, id, cmd, 'e2');
      t.is(asked, 'e2', "the next conductor asked e2's tracker for the move claim");
    } finally {
      if (asked === undefined) hold.disarm();
      roomGiven.release(); // the dead conductor's continuation: its actor is gone, it acks nothing
    }
  },
);

// e2's tracker refuses: it already counts its whole memory (a claim placement does not know of).
// e3 holds another instance, so placement's spread weigher picks e2 first. The room on e2 goes
// back, and the instance goes to e3.
test.serial(
  'evacuate claim - a destination whose tracker refuses: its room goes back, another host is used',
  async (t) => {
    t.timeout(240_000);
    const c = await cloud;
    const a = await admin();
    const ballast = crypto.randomUUID();
    const booted = await a.final(
      ballast,
      await a.command(ballast, 'boot', { name: 'ec-ballast', flavor: 'm1.tiny', host: 'e3' }),
    );
    t.is(booted.type, 'instance.create.end');
    const id = await onDeadE1('ec-refused');
    const e2 = await c.worker('e2').tracker.get();
    const full = {
      type: 'instanceClaim',
      opId: 'ec-full',
      instanceId: 'ec-full',
      flavor: { vcpus: 1, memoryMb: 32768, rootGb: 0 },
    };
    t.true((await e2.handle(full as never)).ok, 'e2 counts its whole memory');
    const roomGiven = hold.arm('placement.answered', (x) => x.op === 'allocations.put' && x.consumer === id);
    const cmd = await a.command(id, 'evacuate', {});
    t.is(await roomGiven.reached, 'conductor');
    t.deepEqual((await hostsOf(c, id)).sort(), ['e1', 'e2'], 'placement gave room on e2 first');
    roomGiven.release();
    await evacuatedTo(t, c, id, cmd, 'e3', async () => {
      t.true(
        (await e2.handle({ type: 'abortInstanceClaim', opId: 'ec-full:abort', instanceId: 'ec-full' } as never)).ok,
      );
    });
    t.is((await c.act(ballast, 'delete')).type, 'instance.delete.end');
  },
);
