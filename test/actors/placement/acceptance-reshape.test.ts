/** Placement acceptance cases (reshape; docs/architecture.md §9.4) against the placement actor over NATS. */
import test from 'ava';
import { defineReshapeCases } from '../../machines/placement/cases-reshape.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('reshape');
test.after.always(() => nats.cleanup());

defineReshapeCases(test, nats.make, 'placement over NATS');
