/** Placement acceptance cases, inventory and provider (1–5, 27–30, 33, 34), against the pure core. */
import test from 'ava';
import { defineInventoryCases } from './cases-inventory.js';
import { pureDriver } from './pure-driver.js';

defineInventoryCases(test, pureDriver);
