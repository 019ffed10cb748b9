/** Placement acceptance case 40, reshape, against the pure core. */
import test from 'ava';
import { defineReshapeCases } from './cases-reshape.js';
import { pureDriver } from './pure-driver.js';

defineReshapeCases(test, pureDriver);
