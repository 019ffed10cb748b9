/**
 * `novactor libvirtd --root DIR`: runs a private libvirtd for one compute host (its own mount
 * namespace and directories under DIR, virt/libvirt/daemon.ts) as a role that `up` supervises
 * like the others: it prints `ready <uri>` once the daemon answers, stops it on SIGTERM/SIGINT,
 * and exits 1 if the daemon dies (so it is restarted). Guests keep running across a restart.
 */
import type { Command } from 'commander';
import { libvirtUnavailable, startPrivateLibvirtd } from '../../virt/index.js';
import { reportFailure } from '../failure.js';
import { UsageError } from '../options.js';

export function registerLibvirtd(program: Command): void {
  program
    .command('libvirtd')
    .description('run a private libvirtd for one compute host (root; used by `up --driver libvirt`)')
    .requiredOption('--root <dir>', "the daemon's directories (run, lib, cache, log, etc) and its log")
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (o: { root: string }) => {
      try {
        const why = libvirtUnavailable();
        if (why) throw new UsageError(why);
        const daemon = await startPrivateLibvirtd({ root: o.root });
        process.stdout.write(`libvirtd ready ${daemon.uri}\n`);
        const stop = () => void daemon.stop().then(() => process.exit(0));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await daemon.exited;
        process.stderr.write(`novactor libvirtd: the daemon under ${o.root} exited\n`);
        process.exit(1);
      } catch (err) {
        reportFailure('novactor libvirtd', err);
      }
    });
}
