/**
 * Retries an async step until it succeeds or a deadline passes. For steps that
 * legitimately fail for a while (a cluster electing a new leader after a kill), never to
 * paper over a race in the code under test.
 */
export async function eventually<T>(
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
    }
  }
}
