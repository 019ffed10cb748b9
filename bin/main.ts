#!/usr/bin/env node
/** The `novactor` command: composition only (STYLE.md 8). */
import { Command } from 'commander';
import { registerPlacement } from './commands/placement.js';
import { registerPlacementReads } from './commands/placement-reads.js';
import { registerUp } from './commands/up.js';

const program = new Command('novactor')
  .description('a compute control plane in the actor model, over NATS JetStream')
  .showHelpAfterError();

registerUp(program);
registerPlacement(program);
registerPlacementReads(program);

await program.parseAsync(process.argv);
