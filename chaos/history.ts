/**
 * The history of a chaos run: every command issued, its PubAck, every event observed, every
 * fault injected, every provider's usage after every placement write, every repair a host's
 * audit made and every error of an observer, one JSON object per line. The checker reads it
 * after the run; `novactor chaos --replay FILE` reads its first line to run the same seed and
 * options again.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';

export interface ChaosOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly clients: number;
  readonly hosts: number;
  readonly faults: readonly FaultKind[];
  /** Faults per minute. */
  readonly rate: number;
  /** 1: one nats-server; 3: a loopback cluster with every stream and bucket at 3 replicas. */
  readonly cluster: 1 | 3;
  /** The hosts' driver: the fake one (default), or libvirt with real QEMU guests. */
  readonly driver?: ChaosDriver;
}

export const CHAOS_DRIVERS = ['fake', 'libvirt'] as const;
export type ChaosDriver = (typeof CHAOS_DRIVERS)[number];

/**
 * Fault kinds. `driver` (failures and latency injected into the fake driver) is the fake
 * driver's; `libvirtd` (kill -9 of a host's libvirtd, which its role restarts) and `qemu`
 * (kill -9 of a guest's QEMU) are the libvirt driver's real failures.
 */
export const FAULT_KINDS = ['kill', 'pause', 'nats', 'nats-loss', 'driver', 'libvirtd', 'qemu'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The kinds that only make sense with one driver. */
export const DRIVER_FAULTS: Readonly<Record<ChaosDriver, readonly FaultKind[]>> = {
  fake: ['driver'],
  libvirt: ['libvirtd', 'qemu'],
};

export type HistoryRecord =
  | { readonly k: 'start'; readonly t: number; readonly options: ChaosOptions }
  | {
      readonly k: 'cmd';
      readonly t: number;
      readonly client: number;
      readonly id: string;
      readonly instanceId: string;
      readonly action: string;
      readonly body: Record<string, unknown>;
    }
  | { readonly k: 'ack'; readonly t: number; readonly id: string; readonly ok: boolean; readonly error?: string }
  | {
      readonly k: 'evt';
      readonly t: number;
      /** NV_EVT stream sequence: two records with the same seq are one stored event seen twice. */
      readonly seq: number;
      readonly instanceId: string;
      readonly type: string;
      readonly corr: string | null;
      readonly final: boolean;
      readonly vmState: string | null;
      readonly flavor: string | null;
      readonly code: string | null;
    }
  | {
      readonly k: 'fault';
      readonly t: number;
      readonly kind: string;
      readonly target: string;
      readonly detail?: string;
    }
  /**
   * One provider's usage of one class against its capacity ((total − reserved) × ratio) right
   * after one placement write: the write `rid` (`op`) in record `seq` of placement's log.
   */
  | {
      readonly k: 'write';
      readonly t: number;
      readonly seq: number;
      readonly rid: string;
      readonly op: string;
      readonly provider: string;
      readonly resource: string;
      readonly used: number;
      readonly capacity: number;
    }
  /** A host's periodic audit repaired something (an `audit.healed` event, NV_EVT sequence `seq`). */
  | {
      readonly k: 'healed';
      readonly t: number;
      readonly seq: number;
      readonly host: string;
      readonly repaired: readonly {
        readonly kind: string;
        readonly id: string;
        readonly instanceId: string | null;
        readonly detail: string;
      }[];
    }
  /**
   * An observer of the run could not see something (an event it could not decode, a log record, a read that failed):
   * the checks are incomplete.
   */
  | { readonly k: 'observer-error'; readonly t: number; readonly source: string; readonly detail: string }
  | { readonly k: 'end'; readonly t: number; readonly quiesced: boolean };

/** Appends records to a JSON-lines file. */
export class HistoryWriter {
  private readonly out: WriteStream;
  readonly records: HistoryRecord[] = [];
  constructor(readonly file: string) {
    this.out = createWriteStream(file, { flags: 'w' });
  }
  private closed = false;
  /** Appends a record; one that comes after `close()` (an observer's last message) is dropped. */
  add(r: HistoryRecord): void {
    if (this.closed) return;
    this.records.push(r);
    this.out.write(JSON.stringify(r) + '\n');
  }
  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.out.end(resolve));
  }
}

/** Reads a history file; a line that does not parse is an error naming the line. */
export function readHistory(file: string): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as HistoryRecord);
    } catch {
      throw new Error(`${file}:${i + 1} is not a history record`);
    }
  });
  return out;
}

/** The options a history was run with (its first record). */
export function optionsOf(records: readonly HistoryRecord[]): ChaosOptions {
  const first = records[0];
  if (first?.k !== 'start') throw new Error('the history does not start with a start record');
  return first.options;
}
