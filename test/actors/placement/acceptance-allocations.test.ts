/** Placement acceptance cases (allocations; docs/architecture.md §9.4) against the placement actor over NATS. */
import test from 'ava';
import { defineAllocationCases } from '../../machines/placement/cases-allocations.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('alloc');
test.after.always(() => nats.cleanup());

defineAllocationCases(test, nats.make, 'placement over NATS');
