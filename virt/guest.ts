/**
 * A guest of the process driver: a program that does nothing but stay alive. Its command
 * line (`--novactor-guest --host H --instance ID ...`, built by virt/process.ts) is what
 * identifies it, so a restarted compute worker finds it again by scanning /proc.
 */

// One long timer keeps the event loop alive at negligible cost; the guest has no work.
const idle = setInterval(() => undefined, 1 << 30);

// SIGTERM is the clean power-off: exit 0 so the exit is told apart from a kill.
process.on('SIGTERM', () => {
  clearInterval(idle);
  process.exit(0);
});

// SIGUSR2 is the NMI of triggerCrashDump (virt/proc.ts NMI_SIGNAL): a real guest would write a crash dump (kdump);
// this one has no memory worth dumping and keeps running, as a guest configured to dump and carry on does.
process.on('SIGUSR2', () => undefined);
