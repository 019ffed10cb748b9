/**
 * The host's CPU features as placement traits (Nova's libvirt driver, `CPU_TRAITS_MAPPING`):
 * libvirt's feature names, from the host CPU expanded by `virsh cpu-baseline --features`, mapped
 * to os-traits' `HW_CPU_X86_*` names. A feature with no trait is not reported (os-traits names
 * only these).
 */
const X86: Readonly<Record<string, string>> = {
  '3dnow': '3DNOW',
  abm: 'ABM',
  aes: 'AESNI',
  avx: 'AVX',
  avx2: 'AVX2',
  avx512bw: 'AVX512BW',
  avx512cd: 'AVX512CD',
  avx512dq: 'AVX512DQ',
  avx512er: 'AVX512ER',
  avx512f: 'AVX512F',
  avx512pf: 'AVX512PF',
  avx512vl: 'AVX512VL',
  avx512vnni: 'AVX512VNNI',
  avx512vbmi: 'AVX512VBMI',
  avx512ifma: 'AVX512IFMA',
  avx512vbmi2: 'AVX512VBMI2',
  avx512bitalg: 'AVX512BITALG',
  'avx512-vpopcntdq': 'AVX512VPOPCNTDQ',
  vaes: 'AVX512VAES',
  gfni: 'AVX512GFNI',
  vpclmulqdq: 'AVX512VPCLMULQDQ',
  bmi1: 'BMI',
  bmi2: 'BMI2',
  pclmuldq: 'CLMUL',
  f16c: 'F16C',
  fma: 'FMA3',
  fma4: 'FMA4',
  mmx: 'MMX',
  mpx: 'MPX',
  'sha-ni': 'SHA',
  sse: 'SSE',
  sse2: 'SSE2',
  sse3: 'SSE3',
  'sse4.1': 'SSE41',
  'sse4.2': 'SSE42',
  sse4a: 'SSE4A',
  ssse3: 'SSSE3',
  svm: 'SVM',
  tbm: 'TBM',
  vmx: 'VMX',
  xop: 'XOP',
};

/** The `HW_CPU_X86_*` traits of libvirt CPU feature names, sorted, each once. */
export function cpuFeatureTraits(features: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of features) {
    const t = X86[f];
    if (t) out.add(`HW_CPU_X86_${t}`);
  }
  return [...out].sort();
}

/** The feature names a `virsh cpu-baseline --features` document requires. */
export function requiredFeatures(baselineXml: string): string[] {
  const out: string[] = [];
  for (const m of baselineXml.matchAll(/<feature\s+policy=['"]require['"]\s+name=['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

/** The host's `<cpu>` element of `virsh capabilities` (the input cpu-baseline takes), or undefined. */
export function hostCpuOf(capabilitiesXml: string): string | undefined {
  return /<host>[\s\S]*?(<cpu>[\s\S]*?<\/cpu>)/.exec(capabilitiesXml)?.[1];
}
