/** Placement acceptance cases, allocation candidates (35–39), against the pure core. */
import test from 'ava';
import { defineCandidateCases } from './cases-candidates.js';
import { pureDriver } from './pure-driver.js';

defineCandidateCases(test, pureDriver);
