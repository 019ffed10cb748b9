/**
 * Image properties that decide where an instance may run (docs/scheduling.md), as Nova's
 * ImagePropertiesFilter and image traits do — asked of placement rather than filtered after it:
 * `hw_architecture` becomes the required trait `HW_ARCH_<ARCH>` that each host reports for its
 * own architecture, `trait:<NAME>=required` a required trait. Every other property is kept on
 * the image and the instance, unused (Nova keeps arbitrary image properties the same way).
 */
import type { ImageProperties } from '../../protocol/schemas/internal.js';

/** Nova's `fields.Architecture` values novactor knows (nova/objects/fields.py, the common ones). */
export const ARCHITECTURES = ['x86_64', 'i686', 'aarch64', 'armv7l', 'ppc64le', 'ppc64', 's390x', 'riscv64'] as const;

const TRAIT_RE = /^(HW|COMPUTE|STORAGE|MISC|OWNER|CUSTOM)_[A-Z0-9_]{1,240}$/;

/** The trait a host of architecture `arch` reports (os-traits' `hw/arch`). */
export const archTrait = (arch: string): string => `HW_ARCH_${arch.toUpperCase()}`;

/** Node's `process.arch` as Nova names the architecture; undefined for one it has no name for. */
export function architectureOf(nodeArch: string): string | undefined {
  const names: Record<string, string> = {
    x64: 'x86_64',
    ia32: 'i686',
    arm64: 'aarch64',
    arm: 'armv7l',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return names[nodeArch];
}

/** Why image properties are refused, or undefined when they are fine. */
export function imagePropertiesProblem(props: ImageProperties): string | undefined {
  for (const [key, value] of Object.entries(props)) {
    if (key === 'hw_architecture' && !(ARCHITECTURES as readonly string[]).includes(value))
      return `image property hw_architecture: ${value} is not an architecture (${ARCHITECTURES.join(', ')})`;
    if (key.startsWith('trait:')) {
      const name = key.slice('trait:'.length);
      if (!TRAIT_RE.test(name)) return `image property ${key}: ${name} is not a trait name`;
      // Nova: an image may only require a trait (forbidden is a flavor's).
      if (value !== 'required') return `image property ${key}: must be required, not ${value}`;
    }
  }
  return undefined;
}

/** The traits `props` require of a host. */
export function imageRequiredTraits(props: ImageProperties | undefined): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'hw_architecture') out.push(archTrait(value));
    else if (key.startsWith('trait:') && value === 'required') out.push(key.slice('trait:'.length));
  }
  return out;
}
