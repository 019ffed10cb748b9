/**
 * Runs upstream Placement's functional tests (placement/tests/functional/gabbits, the YAML files
 * whose only fixture is `APIFixture`: an empty service) against novactor's Placement HTTP API,
 * each file on a fresh placement actor (its own subject prefix) behind its own listener, with
 * `gabbi-run` (Debian's python3-gabbi) and the environment APIFixture sets. Prints per file and
 * in total how many tests pass. Not part of `npm test`: `npm run gabbits -- DIR [FILE…]`
 * (docs/http-api.md).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { placementApi, startHttpApi } from '../../actors/http/index.js';
import { randomIds } from '../../actors/runtime/index.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectTo, startNats } from '../helpers/nats.js';
import { startPlacementNode } from '../helpers/placement.js';

/** APIFixture's environment (placement/tests/functional/fixtures/gabbits.py). */
function fixtureEnv(): Record<string, string> {
  const u = () => randomUUID();
  return {
    RP_UUID: u(),
    RP_NAME: u(),
    RP_UUID1: u(),
    RP_NAME1: u(),
    RP_UUID2: u(),
    RP_NAME2: u(),
    CUSTOM_RES_CLASS: 'CUSTOM_IRON_NFV',
    CUSTOM_RES_CLASS1: 'CUSTOM_IRON_NFV1',
    CUSTOM_RES_CLASS2: 'CUSTOM_IRON_NFV2',
    PROJECT_ID: u(),
    ADMIN_PROJECT_ID: u(),
    SERVICE_PROJECT_ID: u(),
    USER_ID: u(),
    PROJECT_ID_ALT: u(),
    USER_ID_ALT: u(),
    INSTANCE_UUID: u(),
    MIGRATION_UUID: u(),
    CONSUMER_UUID: u(),
    PARENT_PROVIDER_UUID: u(),
    ALT_PARENT_PROVIDER_UUID: u(),
  };
}

const onlyApiFixture = (text: string) => {
  const block = /^fixtures:\s*\n((?:\s+-\s*\S+\s*\n)+)/m.exec(text)?.[1] ?? '';
  const names = [...block.matchAll(/-\s*(\S+)/g)].map((m) => m[1]);
  return names.length === 1 && names[0] === 'APIFixture';
};

function gabbiRun(url: string, file: string, env: Record<string, string>): Promise<{ ran: number; failed: string[] }> {
  return new Promise((resolve) => {
    const verbose = process.env['NV_GABBI_VERBOSE'] === 'all' ? ['-v', 'all'] : [];
    const child = spawn('gabbi-run', [...verbose, url, '--', file], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', () => {
      const ok = [...out.matchAll(/^(?:\.\.\. )?✓ (.*)$/gm)].length;
      const failed = [...out.matchAll(/^(?:\.\.\. )?[✗E] (.*)$/gm)].map((m) => m[1]!);
      const ran = ok + failed.length;
      if (process.env['NV_GABBI_VERBOSE'] !== undefined) process.stdout.write(out);
      resolve({ ran, failed });
    });
  });
}

async function main(): Promise<void> {
  const [dir, ...only] = process.argv.slice(2);
  if (!dir) throw new Error('usage: placement-gabbits DIR [FILE…] (DIR: placement/tests/functional/gabbits)');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && (only.length === 0 || only.includes(f)))
    .filter((f) => onlyApiFixture(readFileSync(join(dir, f), 'utf8')))
    .sort();
  const server = await startNats();
  let total = 0;
  let passed = 0;
  try {
    for (const [i, f] of files.entries()) {
      const prefix = `gab${i}`;
      const node = await startPlacementNode(server.url, `placement-${prefix}`, { prefix });
      const api = await startHttpApi({
        host: '127.0.0.1',
        port: 0,
        ids: randomIds,
        // At the root, as APIFixture serves it: the tests expect links and Location headers there.
        apis: [placementApi({ nc: node.nc, prefix, mount: '' })],
      });
      const r = await gabbiRun(api.url, join(dir, f), fixtureEnv());
      await api.stop();
      await node.stop();
      // The next file's placement starts from nothing: this one's streams and buckets go.
      const nc = await connectTo(server.url, 'gabbits-cleanup');
      const jsm = await jetstreamManager(nc);
      for await (const st of jsm.streams.list()) await jsm.streams.delete(st.config.name);
      await nc.close(); // an open connection would keep the run from ending
      total += r.ran;
      passed += r.ran - r.failed.length;
      process.stdout.write(`${basename(f)}: ${r.ran - r.failed.length}/${r.ran}\n`);
      for (const name of r.failed) process.stdout.write(`  ✗ ${name}\n`);
    }
  } finally {
    await server.cleanup();
  }
  process.stdout.write(`placement gabbits: ${passed} of ${total} passed (${files.length} files)\n`);
}

await main();
