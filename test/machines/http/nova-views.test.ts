/** The pure halves of the Compute API (machines/http): Nova's status map, request parsing, list paging. */
import test from 'ava';
import {
  bootPlan,
  BUILTIN_IMAGE_ID,
  listServers,
  novaStatus,
  NovaRequestError,
  serverAction,
} from '../../../machines/http/index.js';
import type { InstanceRecordView } from '../../../protocol/index.js';

const v21 = { major: 2, minor: 1 };

test("novaStatus - Nova's _STATE_MAP for the states novactor has", (t) => {
  const cases: [string, string | null, string][] = [
    ['building', 'scheduling', 'BUILD'],
    ['active', null, 'ACTIVE'],
    ['active', 'rebooting', 'REBOOT'],
    ['active', 'rebooting_hard', 'HARD_REBOOT'],
    ['active', 'resize_prep', 'RESIZE'],
    ['active', 'migrating', 'MIGRATING'],
    ['active', 'powering_off', 'ACTIVE'],
    ['stopped', null, 'SHUTOFF'],
    ['stopped', 'resize_migrating', 'RESIZE'],
    ['resized', null, 'VERIFY_RESIZE'],
    ['resized', 'resize_reverting', 'REVERT_RESIZE'],
    ['paused', null, 'PAUSED'],
    ['suspended', null, 'SUSPENDED'],
    ['rescued', null, 'RESCUE'],
    ['error', null, 'ERROR'],
    ['soft-delete', null, 'SOFT_DELETED'],
    ['shelved_offloaded', null, 'SHELVED_OFFLOADED'],
  ];
  for (const [vm, task, status] of cases) t.is(novaStatus(vm, task), status, `${vm}/${task}`);
});

test('bootPlan - one boot per server of max_count, the built-in image by name, bad bodies refused', (t) => {
  const p = bootPlan(
    { server: { name: 'web', flavorRef: 'http://x/flavors/m1.tiny', imageRef: BUILTIN_IMAGE_ID, max_count: '3' } },
    v21,
    false,
  );
  t.deepEqual(
    p.boots.map((b) => [b['name'], b['flavor'], b['image']]),
    [
      ['web-1', 'm1.tiny', 'cirros'],
      ['web-2', 'm1.tiny', 'cirros'],
      ['web-3', 'm1.tiny', 'cirros'],
    ],
  );
  const refused = (body: unknown, admin = false, v = v21) =>
    t.throws(() => bootPlan(body, v, admin), { instanceOf: NovaRequestError });
  refused(null);
  refused({ server: { name: 'a', flavorRef: 'm1.tiny', imageRef: 'not-a-uuid' } });
  refused({ server: { name: 'a', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID, min_count: 2, max_count: 1 } });
  refused({ server: { name: 'a', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID } }, false, { major: 2, minor: 37 });
  refused({ server: { name: 'a\u0000', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID } });
  const forced = t.throws(
    () =>
      bootPlan(
        { server: { name: 'a', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID, availability_zone: 'nova:h1' } },
        v21,
        false,
      ),
    { instanceOf: NovaRequestError },
  );
  t.is(forced.status, 403, 'a forced host is the admin’s');
  t.is(
    bootPlan(
      { server: { name: 'a', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID, availability_zone: 'nova:h1' } },
      v21,
      true,
    ).boots[0]!['host'],
    'h1',
  );
});

test('serverAction - Nova actions as novactor commands, their statuses and policies', (t) => {
  t.like(serverAction({ confirmResize: null }, v21), { action: 'confirm_resize', status: 204 });
  t.like(serverAction({ resize: { flavorRef: 'm1.small' } }, v21), { action: 'resize', body: { flavor: 'm1.small' } });
  t.like(serverAction({ migrate: null }, v21), { action: 'migrate', adminOnly: true, adminProject: false });
  t.like(serverAction({ migrate: { host: 'h2' } }, { major: 2, minor: 56 }), {
    body: { host: 'h2' },
    adminProject: true,
  });
  t.throws(() => serverAction({ migrate: { host: 'h2' } }, v21), { instanceOf: NovaRequestError });
  t.like(serverAction({ reboot: { type: 'hard' } }, v21), { action: 'reboot', body: { type: 'HARD' } });
  t.deepEqual(serverAction({ 'os-getConsoleOutput': { length: 10 } }, v21), { kind: 'console', length: 10 });
  t.throws(() => serverAction({ trigger_crash_dump: null }, v21), { message: /no such action/ });
  t.throws(() => serverAction({ 'os-stop': null, 'os-start': null }, v21), { instanceOf: NovaRequestError });
});

const record = (i: number): InstanceRecordView => ({
  instanceId: `00000000-0000-0000-0000-00000000000${i}`,
  name: `vm${i}`,
  host: i % 2 ? 'h1' : 'h2',
  node: null,
  vmState: i === 3 ? 'stopped' : 'active',
  taskState: null,
  powerState: 'running',
  flavor: { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
  project: 'p',
  user: 'u',
  image: null,
  metadata: {},
  locked: false,
  createdAt: 1000 + i,
  updatedAt: 1000 + i,
});

test('listServers - newest first, filters (patterns safe from catastrophic backtracking), admin-only host filter, limit and marker', (t) => {
  const all = [1, 2, 3, 4, 5].map(record);
  const ids = (q: string, admin = false) =>
    listServers(all, new URLSearchParams(q), { admin, imageIdOf: () => BUILTIN_IMAGE_ID }).servers.map((r) => r.name);
  t.deepEqual(ids(''), ['vm5', 'vm4', 'vm3', 'vm2', 'vm1']);
  t.deepEqual(ids('status=SHUTOFF'), ['vm3']);
  t.deepEqual(ids('name=^vm1$'), ['vm1']);
  t.deepEqual(ids('name=v.3'), ['vm3']);
  t.deepEqual(ids('name=^vm[12]$'), [], 'only ^, $, . and .* are special: brackets match themselves');
  t.deepEqual(
    ids(`name=${encodeURIComponent('(v+)+x')}`),
    [],
    'a pattern that would backtrack forever is literal text',
  );
  t.deepEqual(ids('host=h2'), ['vm5', 'vm4', 'vm3', 'vm2', 'vm1'], 'ignored for a member');
  t.deepEqual(ids('host=h2', true), ['vm4', 'vm2']);
  const page = listServers(all, new URLSearchParams('limit=2'), { admin: false, imageIdOf: () => '' });
  t.deepEqual(
    page.servers.map((r) => r.name),
    ['vm5', 'vm4'],
  );
  t.is(page.next, record(4).instanceId);
  t.deepEqual(ids(`limit=2&marker=${record(4).instanceId}`), ['vm3', 'vm2']);
  t.throws(() => ids('status=FLYING'), { instanceOf: NovaRequestError });
  t.throws(() => ids('limit=x'), { instanceOf: NovaRequestError });
});
