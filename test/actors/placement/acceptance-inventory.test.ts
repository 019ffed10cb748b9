/** Placement acceptance cases (inventory; docs/architecture.md §9.4) against the placement actor over NATS. */
import test from 'ava';
import { defineInventoryCases } from '../../machines/placement/cases-inventory.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('inv');
test.after.always(() => nats.cleanup());

defineInventoryCases(test, nats.make, 'placement over NATS');
