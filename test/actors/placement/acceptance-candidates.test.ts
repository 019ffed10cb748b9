/** spec/placement.md §8 (candidates cases) against the real placement actor over a real nats-server. */
import test from 'ava';
import { defineCandidateCases } from '../../machines/placement/cases-candidates.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('cand');
test.after.always(() => nats.cleanup());

defineCandidateCases(test, nats.make, 'placement over NATS');
