/** spec/placement.md §8 (reshape cases) against the real placement actor over a real nats-server. */
import test from 'ava';
import { defineReshapeCases } from '../../machines/placement/cases-reshape.js';
import { natsPlacements } from './nats-driver.js';

const nats = natsPlacements('reshape');
test.after.always(() => nats.cleanup());

defineReshapeCases(test, nats.make, 'placement over NATS');
