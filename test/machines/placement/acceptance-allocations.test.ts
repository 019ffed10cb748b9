/** Placement acceptance cases, allocation and usage (6–26, 31, 32), against the pure core. */
import test from 'ava';
import { defineAllocationCases } from './cases-allocations.js';
import { pureDriver } from './pure-driver.js';

defineAllocationCases(test, pureDriver);
