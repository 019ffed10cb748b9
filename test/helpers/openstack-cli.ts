/**
 * Whether the real OpenStack CLI with its Placement plugin (osc-placement) runs here, for the
 * test files that drive novactor's HTTP APIs with it. As root it first installs what is
 * missing from Debian (scripts/ensure-openstack-cli). In CI (`CI=true`) a machine that cannot
 * run it registers one failing test; elsewhere one skipped test that says why.
 */
import { execFile } from 'node:child_process';
import { ensuredTool, withTool } from './system-tool.js';

/** The `openstack` to run, or why there is none. */
export const openstackCli = ensuredTool(
  'ensure-openstack-cli',
  'the openstack CLI and osc-placement are not installed',
);

/** Registers `register`'s tests when the CLI runs; else a failure (CI) or a skip saying why. */
export function withOpenstackCli(prefix: string, register: (bin: string) => void): void {
  withTool(openstackCli(), prefix, 'the openstack CLI with osc-placement runs', register);
}

/** The environment `openstack` gets: `os` (OS_* settings), nothing of the machine's own OS_* variables. */
const envWith = (os: Record<string, string>) => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_'))),
  OS_CLOUD: '',
  ...os,
});

/** Runs `openstack args…` with `os` (OS_* settings); resolves with its stdout, rejects with its stderr. */
export function runOpenstack(bin: string, os: Record<string, string>, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: envWith(os), timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openstack ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Runs `commands` in one `openstack` session (its interactive shell, fed on stdin): one Python
 * start (~2 s) for them all instead of one each. Resolves with stdout and stderr.
 */
export function runOpenstackSession(
  bin: string,
  os: Record<string, string>,
  commands: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [], { env: envWith(os), timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openstack session failed: ${stderr || err.message}`));
      else resolve({ stdout, stderr });
    });
    child.stdin!.end(commands.map((c) => `${c}\n`).join(''));
  });
}

/** The JSON documents one after another in `text` (what `-f json` commands of a session print). */
export function jsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      if (depth++ === 0) start = i;
    } else if ((ch === '}' || ch === ']') && --depth === 0) docs.push(JSON.parse(text.slice(start, i + 1)));
  }
  return docs;
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `openstack ARGS` with `env` added to this process's (a clouds.yaml's OS_CLIENT_CONFIG_FILE
 * and OS_CLOUD, say); never throws: the exit code says how it went.
 */
export function openstack(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const cli = openstackCli();
  if (!('bin' in cli)) return Promise.resolve({ code: 127, stdout: '', stderr: cli.why });
  return new Promise((resolve) => {
    execFile(
      cli.bin,
      [...args],
      { env: { ...process.env, ...env }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
