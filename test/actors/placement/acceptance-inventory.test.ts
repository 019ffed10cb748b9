/** spec/placement.md §8 (inventory cases) against the real placement actor over a real nats-server. */
import test from 'ava';
import { defineInventoryCases } from '../../machines/placement/cases-inventory.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('inv');
test.after.always(() => nats.cleanup());

defineInventoryCases(test, nats.make, 'placement over NATS');
