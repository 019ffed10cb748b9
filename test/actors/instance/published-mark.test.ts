/**
 * The published watermark (actors/instance/published-mark.ts) against a model of one host's
 * commits over a bucket whose revisions are a global sequence: commits begin, land (or are
 * refused, or their outcome is lost), publish, actors are killed between write and publish,
 * and new incarnations resume from the record. Whatever the interleaving, no revision this
 * host wrote and has not published is at or below the mark; and once everything is
 * published and every instance has committed again, the mark catches up.
 */
import test from 'ava';
import fc from 'fast-check';
import { PublishedMark } from '../../../actors/instance/index.js';

interface Commit {
  readonly instance: number;
  readonly ticket: number;
  readonly base: number;
  state: 'flight' | 'written' | 'lost';
  revision?: number;
  actor: number;
}

type Op =
  | { kind: 'begin'; i: number }
  | { kind: 'land'; c: number; lose: boolean }
  | { kind: 'publish'; c: number }
  | { kind: 'kill'; i: number }
  | { kind: 'resume'; i: number }
  | { kind: 'other'; i: number };

const INSTANCES = 3;
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('begin' as const), i: fc.nat(INSTANCES - 1) }),
  fc.record({ kind: fc.constant('land' as const), c: fc.nat(20), lose: fc.boolean() }),
  fc.record({ kind: fc.constant('publish' as const), c: fc.nat(20) }),
  fc.record({ kind: fc.constant('kill' as const), i: fc.nat(INSTANCES - 1) }),
  fc.record({ kind: fc.constant('resume' as const), i: fc.nat(INSTANCES - 1) }),
  fc.record({ kind: fc.constant('other' as const), i: fc.nat(INSTANCES - 1) }),
);

/** Runs `ops` against the mark and the model; returns the first broken promise, or undefined. */
function run(ops: Op[]): string | undefined {
  const mark = new PublishedMark();
  let seq = 0;
  const latest = Array.from({ length: INSTANCES }, () => ++seq); // each record exists, written by nobody here
  const unpublished = new Set<number>(); // revisions this host wrote whose outbox is not out
  // The live actor of each instance (an id), the revision it holds, or none (killed).
  const live: Array<{ id: number; base: number } | undefined> = latest.map((r, i) => ({ id: i, base: r }));
  let nextActor = INSTANCES;
  const commits: Commit[] = [];
  const busy = new Set<number>(); // instances with a commit of their live actor in flight
  for (const o of ops) {
    if (o.kind === 'begin') {
      const a = live[o.i];
      if (!a || busy.has(o.i)) continue;
      busy.add(o.i);
      commits.push({ instance: o.i, ticket: mark.begin(String(o.i)), base: a.base, state: 'flight', actor: a.id });
    } else if (o.kind === 'land') {
      const flying = commits.filter((x) => x.state === 'flight');
      const c = flying[o.c % Math.max(1, flying.length)];
      if (!c) continue;
      const ok = latest[c.instance] === c.base;
      if (ok) {
        c.revision = latest[c.instance] = ++seq;
        unpublished.add(c.revision);
      }
      if (o.lose) {
        // The writer never learns whether it landed (a timeout): its actor stops, crashed.
        c.state = 'lost';
        if (live[c.instance]?.id === c.actor) live[c.instance] = undefined;
        if (busy.has(c.instance) && live[c.instance] === undefined) busy.delete(c.instance);
      } else if (ok) {
        c.state = 'written';
        mark.written(c.ticket, c.revision!);
      } else {
        c.state = 'lost';
        mark.refused(c.ticket);
        if (live[c.instance]?.id === c.actor) live[c.instance] = undefined; // stale
        busy.delete(c.instance);
      }
    } else if (o.kind === 'publish') {
      const written = commits.filter((x) => x.state === 'written');
      const c = written[o.c % Math.max(1, written.length)];
      if (!c) continue;
      c.state = 'lost'; // done with, either way
      const a = live[c.instance];
      if (!a || a.id !== c.actor) continue; // killed between write and publish: publishes nothing
      unpublished.delete(c.revision!);
      mark.published(c.ticket, c.base);
      a.base = c.revision!;
      busy.delete(c.instance);
    } else if (o.kind === 'kill') {
      live[o.i] = undefined;
      busy.delete(o.i);
    } else if (o.kind === 'resume') {
      if (live[o.i]) continue;
      // A new incarnation reads the record and publishes what it holds.
      const r = latest[o.i]!;
      unpublished.delete(r);
      mark.resumed(String(o.i), r);
      live[o.i] = { id: nextActor++, base: r };
    } else {
      // Another writer takes the record (the conductor, an evacuation): it publishes the
      // outbox it replaces first (records/outbox.ts), then writes, fencing this host's actor.
      unpublished.delete(latest[o.i]!);
      latest[o.i] = ++seq;
      live[o.i] = undefined;
      busy.delete(o.i);
    }
    const v = mark.value();
    for (const r of unpublished) if (r <= v) return `revision ${r} unpublished but the mark is ${v}`;
  }
  return undefined;
}

test('no unpublished revision of this host is ever at or below the mark', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => run(ops) === undefined),
    { numRuns: 3000 },
  );
  t.pass();
});

test('the mark follows every commit published, and stays below one written and not published', (t) => {
  const mark = new PublishedMark(10);
  t.is(mark.value(), 10);
  const a = mark.begin('a');
  t.is(mark.value(), 10, 'in flight: its write lands above what was seen');
  mark.written(a, 12);
  t.is(mark.value(), 11);
  mark.published(a, 10);
  t.is(mark.value(), 12);
  const b = mark.begin('b');
  mark.written(b, 15); // killed before its publish: it holds the mark until b is known out
  const c = mark.begin('c');
  mark.written(c, 16);
  mark.published(c, 13);
  t.is(mark.value(), 14);
  mark.resumed('b', 15); // a restore read revision 15 and published it
  t.is(mark.value(), 16);
  const d = mark.begin('d'); // its outcome lost: held until d commits again
  t.is(mark.value(), 16);
  mark.resumed('d', 16);
  t.is(mark.value(), 16, 'a restore does not settle a write of unknown outcome');
  const e = mark.begin('d');
  mark.written(e, 20);
  mark.published(e, 16);
  t.is(mark.value(), 20, 'a later compare-and-set of d settles it');
  void d;
});

test('onQuiet is called when the last open commit settles', (t) => {
  const mark = new PublishedMark();
  let quiet = 0;
  mark.onQuiet = () => quiet++;
  const a = mark.begin('a');
  const b = mark.begin('b');
  mark.written(a, 1);
  mark.published(a, 0);
  t.is(quiet, 0);
  mark.refused(b);
  t.is(quiet, 1);
});
