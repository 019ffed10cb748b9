/** An operator's hosts.set applied to a host's record (machines/gateway/hosts.ts). */
import test from 'ava';
import { applySwitches } from '../../../machines/gateway/index.js';
import type { HostAdminRecord } from '../../../protocol/index.js';

const prev: HostAdminRecord = { host: 'h1', enabled: false, forcedDown: false, reason: 'maintenance', updatedAt: 1 };

test('gateway hosts - a host with no record starts enabled and up, with no reason', (t) => {
  t.deepEqual(applySwitches(undefined, { host: 'h1' }, 9), {
    host: 'h1',
    enabled: true,
    forcedDown: false,
    reason: null,
    updatedAt: 9,
  });
});

test('gateway hosts - unnamed switches keep their value, and so does the reason of a host still out', (t) => {
  t.deepEqual(applySwitches(prev, { host: 'h1', forcedDown: true }, 9), {
    host: 'h1',
    enabled: false,
    forcedDown: true,
    reason: 'maintenance',
    updatedAt: 9,
  });
});

test('gateway hosts - a host back in service loses its reason unless one is given', (t) => {
  t.is(applySwitches(prev, { host: 'h1', enabled: true }, 9).reason, null);
  t.is(applySwitches(prev, { host: 'h1', enabled: true, reason: 'back' }, 9).reason, 'back');
  t.is(applySwitches(prev, { host: 'h1', reason: null }, 9).reason, null);
});
