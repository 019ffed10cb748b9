/** spec/placement.md §8 (allocations cases) against the real placement actor over a real nats-server. */
import test from 'ava';
import { defineAllocationCases } from '../../machines/placement/cases-allocations.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('alloc');
test.after.always(() => nats.cleanup());

defineAllocationCases(test, nats.make, 'placement over NATS');
