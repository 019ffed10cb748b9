/** Placement acceptance cases (candidates; docs/architecture.md §9.4) against the placement actor over NATS. */
import test from 'ava';
import { defineCandidateCases } from '../../machines/placement/cases-candidates.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('cand');
test.after.always(() => nats.cleanup());

defineCandidateCases(test, nats.make, 'placement over NATS');
