import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding novactor's package.json, found from this file whether run from dist/ or not. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts', 'ensure-nats-server'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error('novactor: cannot find the project root (package.json with scripts/ensure-nats-server)');
    dir = up;
  }
}
