/** Benchmark sizes: the defaults, `--quick` (a minute or so each) and `--tiny` (the smoke test). */
export type Size = 'full' | 'quick' | 'tiny';

export function sizeOf(args: readonly string[]): Size {
  return args.includes('--tiny') ? 'tiny' : args.includes('--quick') ? 'quick' : 'full';
}

/** A numeric `--name N` option, else the size's default. */
export function numOpt(args: readonly string[], name: string, defaults: Record<Size, number>): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : defaults[sizeOf(args)];
}
