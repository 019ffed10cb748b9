#!/usr/bin/env node
// The published entry point. The TypeScript is compiled to dist/ by `npm install`
// (the `prepare` script); say so plainly instead of a stack trace when it was not.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/bin/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('novactor: not built yet; run `npm install` (or `npm run build`) in the project folder first\n');
  process.exit(2);
}
await import(main.href);
