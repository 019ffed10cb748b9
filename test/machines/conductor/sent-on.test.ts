/**
 * A command a host sent on to the conductor after the record left it (machines/conductor/
 * sent-on.ts), pure: one the machine had taken is done; one it had not is refused, never
 * carried out as a delete (it was, before: a shelve_offload racing the periodic offload
 * deleted the instance).
 */
import test from 'ava';
import { decideSentOn } from '../../../machines/conductor/index.js';
import { command, effect, kinds, stored } from './fixtures.js';

test('taken by the machine before the hand-back (kept as `taken`): acked, nothing else', (t) => {
  const task = command('shelve_offload');
  const p = decideSentOn({ task, stored: stored({ vmState: 'shelved_offloaded', taken: [task.commandId] }) });
  t.deepEqual(kinds(p), []);
  t.is(p.outcome, 'ack');
});

test('not taken, the instance on no host: refused InstanceInvalidState, the record untouched', (t) => {
  for (const action of ['shelve_offload', 'stop', 'reboot', 'resize'] as const) {
    const p = decideSentOn({ task: command(action), stored: stored({ vmState: 'shelved_offloaded' }) });
    t.deepEqual(kinds(p), ['reject'], action);
    t.is(effect(p, 'reject').code, 'InstanceInvalidState');
  }
});

test('a host owns it again: sent to that host', (t) => {
  const p = decideSentOn({ task: command('stop'), stored: stored({ owner: 'host:h2', host: 'h2', epoch: 4 }) });
  t.deepEqual(kinds(p), ['route']);
  t.is(effect(p, 'route').host, 'h2');
  t.is(effect(p, 'route').msgId, 'stop-1:route:4');
});

test('missing or deleted: InstanceNotFound', (t) => {
  for (const s of [undefined, stored({ vmState: 'deleted' })]) {
    const p = decideSentOn({ task: command('stop'), stored: s });
    t.is(effect(p, 'reject').code, 'InstanceNotFound');
  }
});
