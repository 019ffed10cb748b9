/**
 * Issue 14 item 2: a compute host may no longer destroy, or prepare, another host's guest at
 * will. On a real server running nats.secure.conf (each host on its own user), a host's call
 * to another (`nv.rpc.<callee>.from.<caller>.<op>`) is refused `PeerCallRefused` unless the
 * records show the caller running, now, the step of a move between the two that makes it —
 * and refused by the server itself when the host poses as another. Refused, nothing changes.
 * The legitimate moves still run in secure mode.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { migrationIdOf } from '../../../actors/compute/move-steps.js';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  rpcType,
  subjects,
  trackerType,
  type Envelope,
  type NetworkRecord,
  type PortRecord,
} from '../../../protocol/index.js';
import { ClientSession } from '../../../bin/client/session.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { connectTo, type SecureTestServer } from '../../helpers/nats.js';

const HOSTS = ['h1', 'h2', 'h3'];
const cloud = startCloud(
  HOSTS.map((name) => ({ name })),
  { secure: true },
);
const conns = new Map<string, NatsConnection>();
test.after.always(async () => {
  for (const nc of conns.values()) await nc.close();
  await (await cloud).stop();
});

/** A connection as host `h`'s NATS user (what a compromised host holds). */
async function asHost(h: string): Promise<NatsConnection> {
  const c = await cloud;
  if (!conns.has(h))
    conns.set(h, await connectTo(c.server.url, `attacker-${h}`, (c.server as SecureTestServer).creds.get(`host-${h}`)));
  return conns.get(h)!;
}

/** A request on `subject` as host `h`; the reply envelope. */
async function call(h: string, subject: string, op: string, body: Record<string, unknown>): Promise<Envelope> {
  const nc = await asHost(h);
  const type = subject.startsWith('nv.tracker.') ? trackerType(op) : rpcType(op);
  const req = encodeMessage(
    envelope({ id: randomUUID(), type, ts: Date.now(), project: '_system', user: `compute-${h}`, body }),
  );
  const r = decodeMessage((await nc.request(subject, req, { timeout: 10_000 })).data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return r.value;
}

/**
 * What a caller would send about instance `id`, as its record stands now (the strongest forgery: the real epoch and
 * revision).
 */
async function seen(c: Cloud, id: string, opId: string, step: string) {
  const cur = (await c.stores.instances.get(id))!;
  return {
    instanceId: id,
    migrationId: migrationIdOf(id, opId),
    epoch: cur.value.epoch,
    revision: cur.revision,
    stepKey: `${id}:${opId}:${step}`,
  };
}

const peer = subjects().peerRpc;
const refusal = (e: Envelope) => (e.type === 'error' ? (e.body as { code: string }).code : `answered ${e.type}`);

async function bootRunning(c: Cloud, name: string): Promise<{ id: string; host: string; others: string[] }> {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  const end = await c.client.final(id, cmd);
  if (end.type !== 'instance.create.end') throw new Error(`boot failed: ${JSON.stringify(end.body)}`);
  const host = String(end.body['host']);
  return { id, host, others: HOSTS.filter((h) => h !== host) };
}

/** The record's state, to show a refusal changed nothing. */
async function state(c: Cloud, id: string) {
  const r = (await c.stores.instances.get(id))!;
  return { revision: r.revision, owner: r.value.owner, vmState: r.value.vmState, taskState: r.value.taskState };
}

test.serial(
  'destroy of a live guest (its instance in no move) is refused: the guest and the record stay',
  async (t) => {
    const c = await cloud;
    const { id, host, others } = await bootRunning(c, 'victim');
    const before = await state(c, id);
    for (const caller of others) {
      for (const step of ['confirmSource', 'cleanupMove', 'moveRollback', 'postLiveMigration']) {
        t.is(
          refusal(
            await call(caller, peer(host, caller, 'destroyGuest'), 'destroyGuest', await seen(c, id, 'any', step)),
          ),
          'PeerCallRefused',
        );
      }
    }
    t.is(c.hosts.get(host)!.fake.guest(id)?.powerState, 'running', 'the guest is still there');
    t.deepEqual(await state(c, id), before, 'the record is unchanged');
  },
);

test.serial('a host may call another only under its own name: the server refuses the rest', async (t) => {
  const c = await cloud;
  const { id, host, others } = await bootRunning(c, 'named');
  const [me, posed] = others as [string, string];
  const nc = await asHost(me);
  for (const subject of [
    peer(host, posed, 'destroyGuest'),
    peer(host, host, 'destroyGuest'),
    subjects().rpc(host, 'destroyGuest'),
    subjects().tracker(host, 'dropMoveClaim'),
    subjects().peerTracker(host, posed, 'dropMoveClaim'),
  ]) {
    const err = await call(me, subject, 'destroyGuest', await seen(c, id, 'any', 'confirmSource')).then(
      () => undefined,
      (e: unknown) => e,
    );
    let v: unknown = err;
    for (let i = 0; i < 8 && v instanceof Error && !(v instanceof natsErrors.PermissionViolationError); i++)
      v = v.cause;
    t.true(v instanceof natsErrors.PermissionViolationError && v.operation === 'publish', `${subject}: ${String(err)}`);
  }
  t.false(nc.isClosed());
  t.is(c.hosts.get(host)!.fake.guest(id)?.powerState, 'running');
});

test.serial(
  "destroy of a guest in someone else's move, or by a party outside the step, is refused; the real confirm still works",
  async (t) => {
    const c = await cloud;
    const { id, host } = await bootRunning(c, 'mover');
    const cmd = await c.client.command(id, 'resize', { flavor: 'm1.small' });
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.resize_finish.end', JSON.stringify(end.body['fault'] ?? ''));
    const dest = String(end.body['host']);
    const outsider = HOSTS.find((h) => h !== host && h !== dest)!;
    const before = await state(c, id);
    // the outsider, on either side
    t.is(
      refusal(
        await call(
          outsider,
          peer(host, outsider, 'destroyGuest'),
          'destroyGuest',
          await seen(c, id, cmd, 'confirmSource'),
        ),
      ),
      'PeerCallRefused',
    );
    t.is(
      refusal(
        await call(
          outsider,
          peer(dest, outsider, 'destroyGuest'),
          'destroyGuest',
          await seen(c, id, cmd, 'cleanupMove'),
        ),
      ),
      'PeerCallRefused',
    );
    // the destination itself, while no confirm runs (RESIZED, waiting for the user)
    t.is(
      refusal(
        await call(dest, peer(host, dest, 'destroyGuest'), 'destroyGuest', await seen(c, id, cmd, 'confirmSource')),
      ),
      'PeerCallRefused',
    );
    // nor may they drop the move's sides from the trackers, or claim room for it elsewhere
    const sideClaims = async (h: string) =>
      (await c.worker(h).tracker.get())
        .report()
        .claims.filter((x) => x.instanceId === id)
        .map((x) => `${x.type}:${x.flavor.memoryMb}`);
    const claimsBefore = {
      [host]: await sideClaims(host),
      [dest]: await sideClaims(dest),
      [outsider]: await sideClaims(outsider),
    };
    const peerOf = async (step: string) => {
      const { migrationId: _m, ...rest } = await seen(c, id, cmd, step);
      return rest;
    };
    const mid = migrationIdOf(id, cmd);
    for (const [caller, callee, side] of [
      [outsider, host, 'source'],
      [dest, host, 'source'],
      [outsider, dest, 'destination'],
    ] as const) {
      const r = await call(caller, subjects().peerTracker(callee, caller, 'dropMoveClaim'), 'dropMoveClaim', {
        opId: `${id}:x:${caller}`,
        migrationId: mid,
        side,
        peer: await peerOf('confirmSource'),
      });
      t.is(refusal(r), 'PeerCallRefused', `${caller} dropping ${callee}'s ${side} side`);
    }
    t.is(
      refusal(
        await call(host, subjects().peerTracker(outsider, host, 'moveClaim'), 'moveClaim', {
          opId: `${id}:x:claim`,
          migrationId: mid,
          instanceId: id,
          flavor: { vcpus: 1, memoryMb: 2048, rootGb: 20 },
          side: 'destination',
          kind: 'resize',
          peer: await peerOf('moveClaim'),
        }),
      ),
      'PeerCallRefused',
    );
    t.deepEqual(
      { [host]: await sideClaims(host), [dest]: await sideClaims(dest), [outsider]: await sideClaims(outsider) },
      claimsBefore,
      'the trackers hold what they held',
    );
    t.truthy(c.hosts.get(host)!.fake.guest(id), "the source's guest is still there, for a revert");
    t.is(c.hosts.get(dest)!.fake.guest(id)?.powerState, 'running');
    t.deepEqual(await state(c, id), before);

    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.is(c.hosts.get(host)!.fake.guest(id), undefined, "confirm destroyed the source's guest");
    t.is(await c.migrationStatus(migrationIdOf(id, cmd)), 'confirmed');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('a late destroy after a revert brought the instance back is refused: the guest lives on', async (t) => {
  const c = await cloud;
  const { id, host } = await bootRunning(c, 'reverted');
  const cmd = await c.client.command(id, 'resize', { flavor: 'm1.small' });
  const end = await c.client.final(id, cmd);
  t.is(end.type, 'instance.resize_finish.end', JSON.stringify(end.body['fault'] ?? ''));
  const dest = String(end.body['host']);
  // what the destination would have sent for a confirm, as the record stood while it owned the instance
  const stale = await seen(c, id, cmd, 'confirmSource');
  t.is((await c.act(id, 'revert_resize')).type, 'instance.resize_revert.end');
  t.is(await c.migrationStatus(migrationIdOf(id, cmd)), 'reverted');
  const before = await state(c, id);
  t.is(before.owner, `host:${host}`);
  for (const body of [stale, { ...stale, ...(await seen(c, id, cmd, 'confirmSource')) }]) {
    t.is(refusal(await call(dest, peer(host, dest, 'destroyGuest'), 'destroyGuest', body)), 'PeerCallRefused');
  }
  t.is(c.hosts.get(host)!.fake.guest(id)?.powerState, 'running', 'the reverted guest lives');
  t.deepEqual(await state(c, id), before);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'preLiveMigration for an instance not migrating to the callee is refused: no guest appears; a real live migration works',
  async (t) => {
    const c = await cloud;
    const { id, host, others } = await bootRunning(c, 'still');
    const flavor = { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 };
    const [a, b] = others as [string, string];
    // the owner itself, to a host it is not migrating to; and another host, for it
    t.is(
      refusal(
        await call(host, peer(a, host, 'preLiveMigration'), 'preLiveMigration', {
          ...(await seen(c, id, 'any', 'liveMigrate')),
          name: 'still',
          flavor,
          image: null,
        }),
      ),
      'PeerCallRefused',
    );
    t.is(
      refusal(
        await call(b, peer(a, b, 'preLiveMigration'), 'preLiveMigration', {
          ...(await seen(c, id, 'any', 'liveMigrate')),
          name: 'still',
          flavor,
          image: null,
        }),
      ),
      'PeerCallRefused',
    );
    t.is(c.hosts.get(a)!.fake.guest(id), undefined, 'no incoming guest was made');

    const cmd = await c.client.command(id, 'live_migrate', {});
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.live_migration_post.end', JSON.stringify(end.body['fault'] ?? ''));
    const to = String(end.body['host']);
    t.is(c.hosts.get(host)!.fake.guest(id), undefined, 'no guest left on the source');
    t.is(c.hosts.get(to)!.fake.guest(id)?.powerState, 'running');
    // the migration is over: a replay of its preLiveMigration is refused, the guest stays as it is
    const third = HOSTS.find((h) => h !== host && h !== to)!;
    t.is(
      refusal(
        await call(host, peer(third, host, 'preLiveMigration'), 'preLiveMigration', {
          ...(await seen(c, id, cmd, 'liveMigrate')),
          name: 'still',
          flavor,
          image: null,
        }),
      ),
      'PeerCallRefused',
    );
    t.is(c.hosts.get(third)!.fake.guest(id), undefined);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  "secure mode: a tenant's network; the host's network step makes and releases the port as its own user",
  async (t) => {
    const c = await cloud;
    await c.stores.quotas.put('demo', { instances: -1, cores: -1, ramMb: -1 });
    const nc = await connectTo(c.server.url, 'tenant-demo', (c.server as SecureTestServer).creds.get('tenant-demo'));
    conns.set('tenant-demo', nc);
    const alice = new ClientSession(nc, 'demo', 'alice', false);
    const net = (await alice.net<{ network: NetworkRecord }>('network.create', { name: 'sec' })).network.networkId;
    await alice.net('subnet.create', { networkId: net, cidr: '10.80.0.0/24' });
    const { id, cmd } = await c.boot('sec-net', 'm1.tiny', { networks: [{ network: net }] });
    t.is((await c.client.final(id, cmd, 60_000)).type, 'instance.create.end');
    const ports = await alice.net<{ ports: PortRecord[] }>('port.list', { networkId: net });
    t.like(ports.ports[0], { deviceId: id, status: 'ACTIVE' });
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual((await alice.net<{ ports: PortRecord[] }>('port.list', { networkId: net })).ports, []);
    await alice.net('network.delete', { networkId: net });
  },
);
