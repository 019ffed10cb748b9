import test from 'ava';
import { instanceActions } from '../../../machines/actions/index.js';

test('instance actions - one row per command with its events, result and fault; internal requests from their events; oldest first', (t) => {
  const rows = instanceActions(
    [
      { id: 'c-boot', action: 'boot', ts: 1, user: 'alice' },
      { id: 'c-stop', action: 'stop', ts: 5, user: 'alice' },
      { id: 'c-bad', action: 'pause', ts: 8, user: 'bob' },
      { id: 'c-run', action: 'reboot', ts: 9, user: 'alice' },
    ],
    [
      { type: 'instance.create.start', corr: 'c-boot', ts: 2, final: false },
      { type: 'instance.create.end', corr: 'c-boot', ts: 3, final: true },
      { type: 'instance.power_off.start', corr: 'c-stop', ts: 6, final: false },
      {
        type: 'instance.power_off.error',
        corr: 'c-stop',
        ts: 7,
        final: true,
        fault: { code: 'DriverFailure', message: 'x' },
      },
      {
        type: 'command.rejected',
        corr: 'c-bad',
        ts: 8,
        final: true,
        fault: { code: 'InstanceInvalidState', message: 'no' },
      },
      { type: 'instance.reboot.start', corr: 'c-run', ts: 10, final: false },
      { type: 'instance.resize_confirm.start', corr: 'auto-confirm:m', ts: 20, final: false },
      { type: 'instance.resize_confirm.end', corr: 'auto-confirm:m', ts: 21, final: true },
    ],
  );
  t.deepEqual(
    rows.map((r) => [r.action, r.requestId, r.result, r.finishTime]),
    [
      ['boot', 'c-boot', 'success', 3],
      ['stop', 'c-stop', 'error', 7],
      ['pause', 'c-bad', 'rejected', 8],
      ['reboot', 'c-run', null, null],
      ['resize_confirm', 'auto-confirm:m', 'success', 21],
    ],
  );
  t.deepEqual(rows[1]?.fault, { code: 'DriverFailure', message: 'x' });
  t.is(rows[4]?.user, null);
  t.deepEqual(
    rows[0]?.events.map((e) => e.type),
    ['instance.create.start', 'instance.create.end'],
  );
});
