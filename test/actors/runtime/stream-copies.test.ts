/**
 * Comparing every server's own copy of a stream (actors/runtime/nats-cluster.ts). The numbers
 * are those of the CI chaos suite's cluster seed 21 (docs/chaos.md): a replacement node n1r1,
 * killed 4.7 s after it joined, came back with copies that lacked messages the others held,
 * raft counted it current, and it led NV_CMD with one message of 98.
 */
import test from 'ava';
import { disagreeingCopies, oddServer, type StreamCopy } from '../../../actors/runtime/nats-cluster.js';

const copy = (server: string, stream: string, messages: number, firstSeq: number, lastSeq: number, leader?: string) =>
  ({
    server,
    account: '$G',
    stream,
    messages,
    firstSeq,
    lastSeq,
    replicas: 3,
    retention: stream === 'NV_HOST' ? 'workqueue' : 'limits',
    leader,
  }) satisfies StreamCopy;

/** Seed 21's copies: a replacement leading NV_CMD with 1 of 98 commands, a follower without the flavors. */
const seed21 = [
  copy('n2', 'NV_CMD', 98, 1, 98, 'n1r1'),
  copy('n3', 'NV_CMD', 98, 1, 98, 'n1r1'),
  copy('n1r1', 'NV_CMD', 1, 98, 98, 'n1r1'),
  copy('n2', 'KV_nv-flavors', 5, 1, 5, 'n3'),
  copy('n3', 'KV_nv-flavors', 5, 1, 5, 'n3'),
  copy('n1r1', 'KV_nv-flavors', 0, 1, 0, 'n3'),
];

test('stream copies - seed 21: a leader with 1 of 98 commands and a follower without the flavors are named', (t) => {
  const differ = disagreeingCopies([
    ...seed21,
    copy('n2', 'KV_nv-migrations', 22, 2, 24),
    copy('n3', 'KV_nv-migrations', 22, 2, 24),
    copy('n1r1', 'KV_nv-migrations', 5, 20, 24),
  ]);
  t.deepEqual([...differ.keys()].sort(), ['$G/KV_nv-flavors', '$G/KV_nv-migrations', '$G/NV_CMD']);
  t.is(differ.get('$G/NV_CMD'), 'n1r1 (leader) 1 msgs 98–98, n2 98 msgs 1–98, n3 98 msgs 1–98');
  t.is(differ.get('$G/KV_nv-flavors'), 'n1r1 0 msgs 1–0, n2 5 msgs 1–5, n3 (leader) 5 msgs 1–5');
});

test('stream copies - identical copies agree; empty copies agree whatever first sequence they name', (t) => {
  t.is(
    disagreeingCopies([
      copy('n1', 'NV_EVT', 334, 1, 334, 'n2'),
      copy('n2', 'NV_EVT', 334, 1, 334, 'n2'),
      copy('n3', 'NV_EVT', 334, 1, 334, 'n2'),
      copy('n1', 'NV_HOST', 0, 0, 0),
      copy('n2', 'NV_HOST', 0, 0, 0),
      copy('n3r1', 'NV_HOST', 0, 1, 0),
    ]).size,
    0,
  );
});

test('stream copies - a work queue: acked messages left on a fresh copy do not count, a missing last sequence does', (t) => {
  // Seen on a replacement: nats-server 2.9 left 99 acked messages on the fresh copy of NV_HOST.
  t.false(
    disagreeingCopies([
      copy('n1', 'NV_HOST', 0, 899, 898),
      copy('n2', 'NV_HOST', 0, 899, 898, 'n2'),
      copy('n3r1', 'NV_HOST', 99, 4, 898),
    ]).has('$G/NV_HOST'),
  );
  t.true(
    disagreeingCopies([
      copy('n1', 'NV_HOST', 2, 897, 898),
      copy('n2', 'NV_HOST', 2, 897, 898, 'n2'),
      copy('n3r1', 'NV_HOST', 0, 1, 0),
    ]).has('$G/NV_HOST'),
  );
});

test('stream copies - a restarted server with writes the others lack (seen after kill -9) differs', (t) => {
  const differ = disagreeingCopies([
    copy('n1', 'KV_nv-quota-usage', 1, 19, 19, 'n1'),
    copy('n2', 'KV_nv-quota-usage', 1, 19, 19, 'n1'),
    copy('n3', 'KV_nv-quota-usage', 1, 21, 21, 'n1'),
  ]);
  t.is(differ.get('$G/KV_nv-quota-usage'), 'n1 (leader) 1 msgs 19–19, n2 1 msgs 19–19, n3 1 msgs 21–21');
});

test('stream copies - a copy missing from the answers is not taken for agreement', (t) => {
  const differ = disagreeingCopies([copy('n1', 'NV_CMD', 3, 1, 3), copy('n2', 'NV_CMD', 3, 1, 3)]);
  t.regex(differ.get('$G/NV_CMD') ?? '', /2 of 3 copies answered/);
});

test('stream copies - the same stream name in two accounts is two streams', (t) => {
  const a = copy('n1', 'NV_CMD', 3, 1, 3);
  const differ = disagreeingCopies([
    a,
    { ...a, server: 'n2' },
    { ...a, server: 'n3' },
    { ...a, account: 'OTHER', messages: 1, firstSeq: 3 },
    { ...a, account: 'OTHER', server: 'n2', messages: 1, firstSeq: 3 },
    { ...a, account: 'OTHER', server: 'n3', messages: 1, firstSeq: 3 },
  ]);
  t.is(differ.size, 0);
});

test('stream copies - a follower one or two appends behind a busy stream agrees; behind with a hole does not', (t) => {
  // The placement lease, renewed thrice a second: a follower applies each append with the next.
  t.is(
    disagreeingCopies([
      copy('n1', 'KV_nv-leases', 1, 276, 276, 'n1'),
      copy('n2', 'KV_nv-leases', 1, 276, 276, 'n1'),
      copy('n3r3', 'KV_nv-leases', 1, 275, 275, 'n1'),
      copy('n1', 'NV_EVT', 340, 1, 340, 'n1'),
      copy('n2', 'NV_EVT', 338, 1, 338, 'n1'),
      copy('n3', 'NV_EVT', 340, 1, 340, 'n1'),
    ]).size,
    0,
  );
  const differ = disagreeingCopies([
    copy('n1', 'NV_EVT', 348, 1, 348, 'n1'),
    copy('n2', 'NV_EVT', 348, 1, 348, 'n1'),
    copy('n3', 'NV_EVT', 330, 1, 347, 'n1'),
  ]);
  t.true(differ.has('$G/NV_EVT'), 'one behind but 18 messages missing: a hole');
  t.true(
    disagreeingCopies([
      copy('n1', 'KV_nv-leases', 1, 276, 276, 'n1'),
      copy('n2', 'KV_nv-leases', 1, 276, 276, 'n1'),
      copy('n3', 'KV_nv-leases', 1, 270, 270, 'n1'),
    ]).has('$G/KV_nv-leases'),
    'six behind: not a moment of lag',
  );
});

test('stream copies - the odd server: a leader with holes, a follower ahead, a fresh empty replacement', (t) => {
  t.is(oddServer(seed21, disagreeingCopies(seed21).keys()), 'n1r1', 'the leader with holes, followers agreeing');
  const ahead = [
    copy('n1', 'KV_nv-quota-usage', 1, 9, 9, 'n2'),
    copy('n2', 'KV_nv-quota-usage', 1, 9, 9, 'n2'),
    copy('n3', 'KV_nv-quota-usage', 1, 10, 10, 'n2'),
  ];
  t.is(oddServer(ahead, ['$G/KV_nv-quota-usage']), 'n3');
  const fresh = [
    copy('n1', 'KV_nv-volumes', 6, 2, 12, 'n2'),
    copy('n2', 'KV_nv-volumes', 6, 2, 12, 'n2'),
    copy('n3r1', 'KV_nv-volumes', 0, 2, 1, 'n2'),
  ];
  t.is(oddServer(fresh, ['$G/KV_nv-volumes']), 'n3r1');
});

test('stream copies - no odd server when two servers differ, copies split three ways, or one did not answer', (t) => {
  const twoServers = [
    copy('n1', 'NV_CMD', 3, 1, 3, 'n1'),
    copy('n2', 'NV_CMD', 3, 1, 3, 'n1'),
    copy('n3', 'NV_CMD', 1, 3, 3, 'n1'),
    copy('n1', 'NV_EVT', 9, 1, 9, 'n1'),
    copy('n2', 'NV_EVT', 2, 8, 9, 'n1'),
    copy('n3', 'NV_EVT', 9, 1, 9, 'n1'),
  ];
  t.is(oddServer(twoServers, ['$G/NV_CMD', '$G/NV_EVT']), undefined, 'n3 in one stream, n2 in the other');
  const split = [copy('n1', 'NV_CMD', 3, 1, 3, 'n1'), copy('n2', 'NV_CMD', 1, 3, 3), copy('n3', 'NV_CMD', 2, 2, 3)];
  t.is(oddServer(split, ['$G/NV_CMD']), undefined);
  t.is(oddServer([copy('n1', 'NV_CMD', 3, 1, 3, 'n1'), copy('n2', 'NV_CMD', 1, 3, 3)], ['$G/NV_CMD']), undefined);
  t.is(oddServer(twoServers, []), undefined, 'nothing differs: no server to name');
});
