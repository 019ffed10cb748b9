/** The libvirt driver's CPU features as placement traits (virt/libvirt/cpu-traits.ts). */
import test from 'ava';
import { cpuFeatureTraits, hostCpuOf, requiredFeatures } from '../../virt/libvirt/cpu-traits.js';

test('libvirt feature names map to os-traits names; unknown ones are not reported', (t) => {
  t.deepEqual(cpuFeatureTraits(['sse4.2', 'avx2', 'aes', 'hypervisor', 'avx2', 'sha-ni', 'fma']), [
    'HW_CPU_X86_AESNI',
    'HW_CPU_X86_AVX2',
    'HW_CPU_X86_FMA3',
    'HW_CPU_X86_SHA',
    'HW_CPU_X86_SSE42',
  ]);
  t.deepEqual(cpuFeatureTraits([]), []);
});

test('the host CPU of a capabilities document, and the features a baseline requires', (t) => {
  const caps =
    "<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch><model>kvm64</model><feature name='avx2'/></cpu>" +
    '</host><guest><cpu><model>other</model></cpu></guest></capabilities>';
  t.is(hostCpuOf(caps), "<cpu><arch>x86_64</arch><model>kvm64</model><feature name='avx2'/></cpu>");
  t.is(hostCpuOf('<capabilities></capabilities>'), undefined);
  const baseline =
    "<cpu mode='custom'><model>kvm64</model><feature policy='require' name='sse4.2'/>" +
    '<feature policy=\'disable\' name=\'avx\'/><feature policy="require" name="avx2"/></cpu>';
  t.deepEqual(requiredFeatures(baseline), ['sse4.2', 'avx2']);
});
