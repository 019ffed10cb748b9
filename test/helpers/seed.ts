/**
 * Seeds of randomized tests. CI runs the same cases every time: a fixed seed, printed, and
 * overridden by an environment variable to replay a failure or to explore (time-based seeds
 * belong to the soak script, chaos/soak.ts, only).
 */
import fc from 'fast-check';

/** The seed of a randomized test: `$env` when set, else `fixed`. */
export function testSeed(fixed: number, env = 'NV_TEST_SEED'): number {
  const v = process.env[env];
  return v === undefined || v === '' ? fixed : Number(v);
}

/**
 * Fixes fast-check's seed for every property of this test file (its default is the time):
 * NV_TEST_SEED, else 14. A failing property prints the seed and path that replay it.
 */
export function fixPropertySeed(): number {
  const seed = testSeed(14);
  fc.configureGlobal({ seed });
  return seed;
}
