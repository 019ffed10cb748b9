/** One valid request and reply body per placement op (filled in with the placement schemas). */
export const PLACEMENT_SAMPLES: Record<string, { request: Record<string, unknown>; reply: Record<string, unknown> }> = {};
