/**
 * Lock and unlock (docs/architecture.md §9.2): a flag on the record, answered at once in any state.
 * Only an admin passes a lock; an admin's lock only an admin lifts.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { accept, reject, type Acceptance, type CommandRule } from './core.js';

export const rules = {
  lock: { lock: 'before', decide: () => accept('lock') },
  unlock: {
    lock: 'before',
    decide: (ctx, cmd) =>
      ctx.locked && ctx.lockedBy === 'admin' && !cmd.isAdmin
        ? reject('NotAuthorized', 'instance was locked by an administrator')
        : accept('unlock'),
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const acceptances = {
  lock: {
    target: null,
    accept: (t, cmd) => {
      if (!t.ctx.locked) t.set({ locked: true, lockedBy: cmd.isAdmin ? 'admin' : 'owner' });
      t.notify('instance.lock', cmd.id, true);
    },
  },
  unlock: {
    target: null,
    accept: (t, cmd) => {
      if (t.ctx.locked) t.set({ locked: false, lockedBy: null });
      t.notify('instance.unlock', cmd.id, true);
    },
  },
} as const satisfies Record<string, Acceptance>;
