/**
 * Weighing hosts as Nova's filter scheduler does (docs/scheduling.md): each weigher gives every
 * host a raw value, the values are normalized over the hosts to 0…1 (Nova's
 * `weights.normalize`: the lowest 0, the highest 1, all equal 0), multiplied by the weigher's
 * multiplier and summed; the highest weight first, ties by host name.
 */

/** Nova's `[filter_scheduler] *_weight_multiplier`s that novactor has weighers for. */
export interface Multipliers {
  /** RAMWeigher: free RAM (positive spreads, negative packs). */
  readonly ram: number;
  /** CPUWeigher: free vCPUs. */
  readonly cpu: number;
  /** DiskWeigher: free disk. */
  readonly disk: number;
  /** ServerGroupSoftAffinityWeigher / SoftAntiAffinityWeigher: the soft group policies. */
  readonly softAffinity: number;
  /** BuildFailureWeigher: minus the builds that failed on the host since its last success. */
  readonly buildFailure: number;
}

/**
 * novactor's defaults: RAM 1 (Nova's), CPU and disk 0 (Nova's are 1: left at 0 so that placement's
 * own weighing by free RAM, which returns the best few candidates, stays exact; set them and the
 * conductor asks for every candidate), soft affinity 1000 (Nova's is 1: high, so the soft policies
 * hold out of the box rather than lose to RAM, as operators set Nova's), build failure 1,000,000 (Nova's:
 * a host that keeps failing builds goes last whatever else it offers).
 */
export const DEFAULT_MULTIPLIERS: Multipliers = {
  ram: 1,
  cpu: 0,
  disk: 0,
  softAffinity: 1000,
  buildFailure: 1_000_000,
};

/** What a weigher looks at on one host. */
export interface HostFacts {
  readonly host: string;
  readonly freeRamMb: number;
  readonly freeVcpus: number;
  readonly freeDiskGb: number;
  /** The soft group policy's raw value (machines/scheduling/server-group.ts groupWeight); 0 without one. */
  readonly group: number;
  /** Builds that failed on the host since its last success (its service record's `failedBuilds`). */
  readonly failedBuilds: number;
}

export interface Weighed {
  readonly host: string;
  readonly weight: number;
  /** Each weigher's share (multiplier × normalized value), for explanations. */
  readonly parts: {
    readonly ram: number;
    readonly cpu: number;
    readonly disk: number;
    readonly softAffinity: number;
    readonly buildFailure: number;
  };
}

function normalized(values: readonly number[]): number[] {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return values.map((v) => (max === min ? 0 : (v - min) / (max - min)));
}

/** `hosts` weighed by `m`, best first. */
export function weighHosts(hosts: readonly HostFacts[], m: Multipliers): Weighed[] {
  if (hosts.length === 0) return [];
  const ram = normalized(hosts.map((h) => h.freeRamMb));
  const cpu = normalized(hosts.map((h) => h.freeVcpus));
  const disk = normalized(hosts.map((h) => h.freeDiskGb));
  const group = normalized(hosts.map((h) => h.group));
  const failures = normalized(hosts.map((h) => -h.failedBuilds));
  const out = hosts.map((h, i) => {
    const parts = {
      ram: m.ram * ram[i]!,
      cpu: m.cpu * cpu[i]!,
      disk: m.disk * disk[i]!,
      softAffinity: m.softAffinity * group[i]!,
      buildFailure: m.buildFailure * failures[i]!,
    };
    const weight = parts.ram + parts.cpu + parts.disk + parts.softAffinity + parts.buildFailure;
    return { host: h.host, weight, parts };
  });
  return out.sort((a, b) => b.weight - a.weight || a.host.localeCompare(b.host));
}

/** Whether placement's weighing by free RAM alone gives the same order (only RAM and group weights count). */
export const ramOnly = (m: Multipliers): boolean => m.cpu === 0 && m.disk === 0;
