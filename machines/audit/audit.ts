/**
 * `audit(observation)`: the verdict on invariants I1–I9 (docs/architecture.md §5) for one observation of
 * the cloud. Pure: the same observation always gives the same violations, in the same order.
 */
import { checkI5 } from './command-rules.js';
import { checkI4, checkI6, checkI7 } from './host-rules.js';
import type { AuditResult, Observation, Violation } from './observation.js';
import { checkI1, checkI2, checkI3 } from './placement-rules.js';
import { checkI8 } from './volume-rules.js';
import { checkI9 } from './port-rules.js';

const CHECKS: readonly ((o: Observation) => Violation[])[] = [
  checkI1,
  checkI2,
  checkI3,
  checkI4,
  checkI5,
  checkI6,
  checkI7,
  checkI8,
  checkI9,
];

/** Checks I1–I9; `ok` when there is no violation. */
export function audit(o: Observation): AuditResult {
  const violations = CHECKS.flatMap((check) => check(o));
  return { ok: violations.length === 0, violations };
}
