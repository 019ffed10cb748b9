/**
 * Checking a role's options (nats.js's `defaultOptions()` pattern): each role's `options.ts`
 * holds its `DEFAULT_*` constants and one `compile…Options()` that fills what is absent and
 * checks the rest with these helpers. A bad value (NaN, a negative interval) is an `InvalidOption`
 * at start, never a crash later. The command-line flags keep their own, narrower, ranges.
 */

/** An integer within [min, max] (inclusive). */
export interface IntegerRange {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
}

/** What a value must be. */
export type Expectation =
  | IntegerRange
  | { readonly kind: 'ratio'; readonly max: number }
  | { readonly kind: 'probability' }
  | { readonly kind: 'oneOf'; readonly values: readonly string[] }
  | { readonly kind: 'matching'; readonly what: string; readonly re: RegExp };

export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'integer':
      return `an integer from ${e.min} to ${e.max}`;
    case 'ratio':
      return `a number above 0 and at most ${e.max}`;
    case 'probability':
      return 'a probability from 0 to 1';
    case 'oneOf':
      return e.values.join(' or ');
    case 'matching':
      return e.what;
  }
}

/** An option's value is out of its range or not a number: terminal, the caller must fix its input. */
export class InvalidOption extends Error {
  override readonly name = 'InvalidOption';
  readonly code = 'InvalidOption';
  readonly retryable = false;
  constructor(
    /** The option's path in the options object, e.g. `heartbeatMs` or `inventory.vcpus`. */
    readonly option: string,
    readonly value: unknown,
    readonly expected: Expectation,
  ) {
    super(`${option} must be ${describeExpectation(expected)}, got ${String(value)}`);
  }
}

export const integer = (min: number, max: number): IntegerRange => ({ kind: 'integer', min, max });

/** A duration in ms, 0 = off; a year at most, as the flags allow: larger is a typo. */
export const MAX_DURATION_MS = 366 * 86_400_000;
export const DURATION_MS = integer(0, MAX_DURATION_MS);

/** `value`, or `fallback` when absent, checked against `e`; NaN, ±Infinity and strays are refused. */
export function option<T extends number | string>(name: string, value: T | undefined, fallback: T, e: Expectation): T {
  const v = value ?? fallback;
  if (!satisfies(v, e)) throw new InvalidOption(name, v, e);
  return v;
}

function satisfies(v: unknown, e: Expectation): boolean {
  switch (e.kind) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) && v >= e.min && v <= e.max;
    case 'ratio':
      return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= e.max;
    case 'probability':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
    case 'oneOf':
      return typeof v === 'string' && e.values.includes(v);
    case 'matching':
      return typeof v === 'string' && e.re.test(v);
  }
}

/** Stream and bucket replicas: 1 on one server, 3 on a cluster (every role's `--replicas`). */
export const DEFAULT_REPLICAS = 1;
export const REPLICAS = integer(1, 5);

/** One second in the milliseconds options are kept in (flags in seconds are Nova's). */
export const SECOND_MS = 1000;
