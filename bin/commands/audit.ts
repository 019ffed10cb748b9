/**
 * `novactor audit [--json] [--timeout MS]`: checks invariants I1–I7 (docs/architecture.md §5,
 * docs/audit.md) on a quiet cloud. Exit 0 clean, 1 violations, 2 usage error or a cloud that
 * could not be read (no server, placement not answering): 1 always means "violated".
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/nats-core';
import { AUDIT_TIMEOUT_MS, collect, DEFAULT_AUDIT_TIMEOUT_MS } from '../../actors/audit/index.js';
import { audit } from '../../machines/audit/index.js';
import { connectFor, intFlag, serverUrls, withServerOptions, type ServerOptions } from '../options.js';
import { failureOf } from '../failure.js';
import { table } from '../table.js';

interface AuditFlags extends ServerOptions {
  timeout: string;
}

export function registerAudit(program: Command): void {
  withServerOptions(
    program
      .command('audit')
      .description('check invariants I1-I7: allocations, capacity, trackers, terminal events, actors, guests'),
  )
    .option(
      '--timeout <ms>',
      'per request to placement and to each host, and per idle wait on a stream',
      String(DEFAULT_AUDIT_TIMEOUT_MS),
    )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (o: AuditFlags) => {
      process.exitCode = await run(o);
    });
}

async function run(o: AuditFlags): Promise<number> {
  let nc: NatsConnection | undefined;
  try {
    const timeoutMs = intFlag('--timeout', o.timeout, AUDIT_TIMEOUT_MS.min, AUDIT_TIMEOUT_MS.max);
    try {
      nc = await connectFor(o, 'novactor-audit');
    } catch (err) {
      return fail(`cannot connect to ${serverUrls(o).join(',')}: ${message(err)}`, failureOf(err).code);
    }
    let observation;
    try {
      observation = await collect({
        nc,
        timeoutMs,
        onCorrupt: (_key, err) => process.stderr.write(`novactor audit: left out: ${err.message}\n`),
      });
    } catch (err) {
      return fail(`cannot read the cloud: ${message(err)}`);
    }
    const r = audit(observation);
    if (o.json) {
      process.stdout.write(
        JSON.stringify(
          { ok: r.ok, violations: r.violations.map((v) => ({ invariant: v.invariant, detail: v.detail })) },
          null,
          2,
        ) + '\n',
      );
    } else if (r.ok) {
      const live = observation.instances.filter((i) => i.vmState !== 'deleted').length;
      process.stdout.write(
        `audit clean: ${live} instances, ${Object.keys(observation.allocations).length} allocations, ${observation.hosts.length} hosts\n`,
      );
    } else {
      process.stdout.write(
        table(
          ['INVARIANT', 'DETAIL'],
          r.violations.map((v) => [v.invariant, v.detail]),
        ),
      );
      process.stdout.write(`${r.violations.length} violation(s)\n`);
    }
    return r.ok ? 0 : 1;
  } catch (err) {
    // A usage error, or anything unforeseen: one line, never a stack trace.
    const f = failureOf(err);
    return fail(f.line, f.code);
  } finally {
    await nc?.close();
  }
}

function fail(text: string, code: 1 | 2 = 2): number {
  process.stderr.write(`novactor audit: ${text}\n`);
  return code;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
