import test from 'ava';
import { ProjectInFlight } from '../../../actors/gateway/in-flight.js';

test('gateway in-flight - a project past its limit waits; other projects are not held by it', (t) => {
  const l = new ProjectInFlight(2);
  t.true(l.tryAcquire('flood'));
  t.true(l.tryAcquire('flood'));
  t.false(l.tryAcquire('flood'), 'a third command of the same project is handed back');
  t.true(l.tryAcquire('quiet'), 'another project still gets a slot');
  l.release('flood');
  t.is(l.inFlight('flood'), 1);
  t.true(l.tryAcquire('flood'), 'a released slot is free again');
  l.release('flood');
  l.release('flood');
  l.release('flood'); // one release too many leaves nothing negative behind
  t.is(l.inFlight('flood'), 0);
  t.throws(() => new ProjectInFlight(0), { instanceOf: RangeError });
});
