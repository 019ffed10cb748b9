/**
 * Rename (Nova's `PUT /servers/{id}` with a `name`): the record's name, in any state and during
 * any operation, answered at once with `instance.update` — as Nova renames a server whatever it
 * is doing. A lock refuses a non-admin's rename as it refuses any change.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { accept, type Acceptance, type CommandRule } from './core.js';

export const rules = {
  rename: { decide: () => accept('rename') },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const acceptances = {
  rename: {
    target: null,
    accept: (t, cmd) => {
      t.set({ name: String(cmd.body['name']) });
      t.notify('instance.update', cmd.id, true);
    },
  },
} as const satisfies Record<string, Acceptance>;
