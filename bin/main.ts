#!/usr/bin/env node
/** The `novactor` command: composition only (docs/architecture.md §2). */
import { Command } from 'commander';
import { registerPlacement } from './commands/placement.js';
import { registerPlacementReads } from './commands/placement-reads.js';
import { registerUp } from './commands/up.js';
import { registerCompute } from './commands/compute.js';
import { registerGateway } from './commands/gateway.js';
import { registerApi } from './commands/api.js';
import { registerConductor } from './commands/conductor.js';
import { registerDemo } from './commands/demo.js';
import { registerInstanceOps } from './commands/instance-ops.js';
import { registerInstanceReads } from './commands/instance-reads.js';
import { registerMoveOps } from './commands/move-ops.js';
import { registerImageOps } from './commands/image-ops.js';
import { registerGroupOps } from './commands/group-ops.js';
import { registerNetworkOps } from './commands/network-ops.js';
import { registerVolumeOps } from './commands/volume-ops.js';
import { registerCatalogOps } from './commands/catalog-ops.js';
import { registerChaos } from './commands/chaos.js';
import { registerHosts } from './commands/hosts.js';
import { registerQuota } from './commands/quota.js';
import { registerWatch } from './commands/watch.js';
import { registerAudit } from './commands/audit.js';
import { registerNats } from './commands/nats.js';
import { registerLibvirtd } from './commands/libvirtd.js';
import { reportFailure } from './failure.js';

const program = new Command('novactor')
  .description('a compute control plane in the actor model, over NATS JetStream')
  .showHelpAfterError();

registerUp(program);
registerPlacement(program);
registerGateway(program);
registerApi(program);
registerConductor(program);
registerCompute(program);
registerDemo(program);
registerPlacementReads(program);
registerInstanceOps(program);
registerInstanceReads(program);
registerMoveOps(program);
registerImageOps(program);
registerGroupOps(program);
registerNetworkOps(program);
registerVolumeOps(program);
registerCatalogOps(program);
registerChaos(program);
registerHosts(program);
registerQuota(program);
registerWatch(program);
registerAudit(program);
registerNats(program);
registerLibvirtd(program);

/**
 * The last resort (docs/cli.md, "Exit codes"): whatever escaped a command's own handling —
 * a timeout from a cluster without a quorum, a server lost mid-command — is one line and
 * exit 2 (no server) or 1, never a stack trace. NOVACTOR_DEBUG=1 prints the stack as well.
 */
function lastResort(err: unknown): never {
  process.exit(reportFailure('novactor', err));
}
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);

await program.parseAsync(process.argv).catch(lastResort);
