/** What a benchmark ran on, so results can be compared honestly. */
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { natsServerBin } from '../actors/runtime/index.js';

export function environment() {
  let nats = 'unknown';
  try {
    nats = execFileSync(natsServerBin(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as unknown */
  }
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    natsServer: nats,
  };
}
