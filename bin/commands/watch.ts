/** `watch`: live lifecycle events of a project (or one instance) until Ctrl-C. */
import type { Command } from 'commander';
import { UsageError } from '../options.js';
import { openEventFeed, watchLine } from '../client/events.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`90s`, `10m`, `2h`, `1d`) or an ISO 8601 time. */
export function parseSince(value: string, now: number): Date {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (m) return new Date(now - Number(m[1]) * UNITS[m[2]!]!);
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new UsageError(
      `--since wants a duration like 10m or an ISO time like 2026-01-01T12:00:00Z, got ${JSON.stringify(value)}`,
    );
  return new Date(t);
}

export function registerWatch(program: Command): void {
  withClientOptions(
    program
      .command('watch')
      .description('print lifecycle events as they happen, one line (or JSON object) each, until Ctrl-C')
      .option('--instance <id>', 'only this instance')
      .option('--since <when>', 'replay from a time first: a duration back (10m) or an ISO time'),
  ).action((o: ClientOptions & { instance?: string; since?: string }) =>
    runClient(o, () => {
      const since = o.since === undefined ? undefined : parseSince(o.since, Date.now());
      const instance = o.instance === undefined ? undefined : tokenArg('--instance', o.instance);
      return async (c) => {
        const filter = instance === undefined ? c.s.evtProject(c.project) : c.s.evtInstance(c.project, instance);
        const feed = await openEventFeed(c, filter, since);
        const stop = () => feed.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        // On stderr even with --json: it says the consumer exists (nothing after this is missed).
        process.stderr.write(`watching ${filter}${since ? ` since ${since.toISOString()}` : ''} (Ctrl-C to stop)\n`);
        try {
          for await (const e of feed) process.stdout.write((c.json ? JSON.stringify(e) : watchLine(e)) + '\n');
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        return 0;
      };
    }),
  );
}
