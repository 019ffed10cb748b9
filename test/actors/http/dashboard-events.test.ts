/**
 * The dashboard's event stream (docs/http-api.md, Dashboard) against a real nats-server: events
 * published on the bus come out as server-sent events in the Compute API's words, a member sees
 * its project's only and an admin every project's and the system's, a token is required (401 in
 * Keystone's shape), a revoked token ends its stream, and the subscription goes when the client
 * does — also a client that stops reading, which is let go instead of being buffered for ever.
 * The same in secure mode, where each stream goes over the token's own NATS connection.
 */
import test from 'ava';
import { connect as tcpConnect } from 'node:net';
import type { NatsConnection } from '@nats-io/nats-core';
import { dashboardApi, identityApi, startHttpApi, Tokens } from '../../../actors/http/index.js';
import { connectNats, randomIds, systemClock } from '../../../actors/runtime/index.js';
import { encodeMessage, envelope } from '../../../protocol/index.js';
import { eventually } from '../../helpers/eventually.js';
import { tokenOf } from '../../helpers/identity.js';
import { openDashboardEvents } from '../../helpers/sse.js';
import { startNats, startSecureNats } from '../../helpers/nats.js';

/** An `instance.update` of `instanceId` in `project`, as an instance actor publishes it. */
function publishUpdate(nc: NatsConnection, project: string, instanceId: string, vmState: string, name = 'web-1') {
  const body = {
    instanceId,
    name,
    host: 'h1',
    node: 'h1',
    vmState,
    taskState: null,
    powerState: vmState === 'active' ? 'running' : 'shutdown',
    flavor: { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
  };
  const e = envelope({ id: randomIds.next(), type: 'instance.update', ts: Date.now(), project, user: 'alice', body });
  nc.publish(`nv.evt.${project}.${instanceId}.instance.update`, encodeMessage(e));
}

function publishServiceUp(nc: NatsConnection, name: string) {
  const e = envelope({
    id: randomIds.next(),
    type: 'service.up',
    ts: Date.now(),
    project: '_system',
    user: 'admin',
    body: { name, role: 'compute' },
  });
  nc.publish(`nv.evt._system.service.${name}.up`, encodeMessage(e));
}

const setup = (async () => {
  const server = await startNats();
  const nc = await connectNats({ servers: [server.url], name: 'dashboard-test' });
  const tokens = new Tokens({ nc, clock: systemClock, ids: randomIds });
  const dashboard = dashboardApi(tokens, { clock: systemClock, heartbeatMs: 100, maxBufferedBytes: 16 * 1024 });
  const api = await startHttpApi({
    host: '127.0.0.1',
    port: 0,
    ids: randomIds,
    apis: [identityApi(tokens), dashboard],
  });
  return { server, nc, tokens, dashboard, api };
})();
test.after.always(async () => {
  const s = await setup;
  await s.api.stop();
  await s.nc.close();
  await s.server.cleanup();
});

test.serial(
  'dashboard events - a member sees its project, in the API words; an admin every project and the system',
  async (t) => {
    const { api, nc } = await setup;
    const member = await openDashboardEvents(api.url, await tokenOf(api.url, 'alice', 'demo'));
    const admin = await openDashboardEvents(api.url, await tokenOf(api.url, 'admin', 'demo'));
    publishUpdate(nc, 'other', 'i-other', 'active', 'not-yours');
    publishUpdate(nc, 'demo', 'i-1', 'stopped');
    publishServiceUp(nc, 'h9');

    const seen = await member.next('instance');
    t.like(seen?.data, {
      type: 'instance.update',
      project: 'demo',
      instanceId: 'i-1',
      name: 'web-1',
      server: {
        id: 'i-1',
        name: 'web-1',
        tenant_id: 'demo',
        status: 'SHUTOFF',
        'OS-EXT-STS:vm_state': 'stopped',
        'OS-EXT-STS:task_state': null,
        'OS-EXT-STS:power_state': 4,
        flavor: { original_name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
      },
    });
    t.is(seen?.id, seen?.data['id'] as string, "the frame's id is the event's");
    t.false('OS-EXT-SRV-ATTR:host' in (seen!.data['server'] as object), 'hosts are for admins, as in Nova');

    const first = await admin.next('instance');
    const second = await admin.next('instance');
    t.deepEqual([first?.data['instanceId'], second?.data['instanceId']], ['i-other', 'i-1']);
    t.is((second?.data['server'] as Record<string, unknown>)['OS-EXT-SRV-ATTR:host'], 'h1');
    t.like((await admin.next('system'))?.data, { type: 'service.up', system: { name: 'h9', detail: 'compute' } });
    await member.cancel();
    await admin.cancel();
  },
);

test.serial(
  'dashboard events - no token or a bad one is 401 in Keystone shape; a revoked token ends its stream',
  async (t) => {
    const { api, dashboard } = await setup;
    for (const headers of [
      {} as Record<string, string>,
      { 'x-auth-token': 'gAAAAnot-a-token' },
      { 'x-auth-token': 'bad token!' },
    ]) {
      const r = await fetch(`${api.url}/dashboard/events`, { headers });
      t.is(r.status, 401);
      t.deepEqual(await r.json(), {
        error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
      });
      t.regex(r.headers.get('www-authenticate') ?? '', /^Keystone uri="http:\/\/127\.0\.0\.1:\d+\/identity"$/);
    }
    t.is(
      (await fetch(`${api.url}/dashboard/events`, { method: 'POST', headers: { 'x-auth-token': 'admin' } })).status,
      405,
    );

    const token = await tokenOf(api.url, 'alice', 'demo');
    const sse = await openDashboardEvents(api.url, token);
    const revoked = await fetch(`${api.url}/identity/v3/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    t.is(revoked.status, 204);
    t.like((await sse.next('expired'))?.data, { message: 'The token was revoked or has expired.' });
    t.is(await sse.next('instance'), undefined, 'and the stream ended');
    await eventually(async () => {
      if (dashboard.streams !== 0) throw new Error(`${dashboard.streams} streams open`);
    });
    t.pass('its subscription is gone');
  },
);

test.serial('dashboard events - a client that goes, or stops reading, takes its subscription with it', async (t) => {
  const { api, nc, dashboard } = await setup;
  const gone = await openDashboardEvents(api.url, 'admin');
  t.is(dashboard.streams, 1);
  await gone.cancel();
  await eventually(async () => {
    if (dashboard.streams !== 0) throw new Error(`${dashboard.streams} streams open`);
  });

  // A client that asks and then never reads: once it is 16 KiB behind (this listener's bound)
  // and the sockets' buffers are full, the server lets it go instead of buffering more.
  const socket = tcpConnect(Number(new URL(api.url).port), '127.0.0.1');
  socket.write('GET /dashboard/events HTTP/1.1\r\nhost: x\r\nx-auth-token: admin\r\n\r\n');
  await eventually(async () => {
    if (dashboard.streams !== 1) throw new Error('not open yet');
  });
  socket.pause();
  const name = 'n'.repeat(255);
  for (let i = 0; i < 200 && dashboard.streams > 0; i++) {
    for (let j = 0; j < 500; j++) publishUpdate(nc, 'demo', `i-${j}`, 'active', name);
    await nc.flush();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(dashboard.streams, 0, 'the slow client was let go');
  socket.destroy();
});

test(
  'dashboard events - secure mode: ' + 'each stream over the token user’s own connection, within its permissions',
  async (t) => {
    const server = await startSecureNats();
    const adminCreds = server.creds.get('admin')!;
    const nc = await connectNats({
      servers: [server.url],
      name: 'publisher',
      user: adminCreds.user,
      pass: adminCreds.password,
    });
    const tokens = new Tokens({ nc, clock: systemClock, ids: randomIds, secureServers: [server.url] });
    const api = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      ids: randomIds,
      apis: [identityApi(tokens), dashboardApi(tokens, { clock: systemClock })],
    });
    try {
      const demo = server.creds.get('tenant-demo')!;
      const tenant = await openDashboardEvents(api.url, await tokenOf(api.url, demo.user, 'demo', demo.password));
      const admin = await openDashboardEvents(api.url, await tokenOf(api.url, 'admin', 'admin', adminCreds.password));
      publishUpdate(nc, 'other', 'i-other', 'active');
      publishUpdate(nc, 'demo', 'i-demo', 'active');
      t.is((await tenant.next('instance'))?.data['instanceId'], 'i-demo');
      t.is((await admin.next('instance'))?.data['instanceId'], 'i-other');
      t.is((await admin.next('instance'))?.data['instanceId'], 'i-demo');
      await tenant.cancel();
      await admin.cancel();
    } finally {
      await api.stop();
      await tokens.stop();
      await nc.close();
      await server.cleanup();
    }
  },
);
