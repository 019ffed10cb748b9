/**
 * A leadership lease in a KV bucket whose keys expire (bucket TTL). The holder renews
 * with compare-and-set on the revision; a standby takes the key with `create` once the
 * holder's last renewal has expired. The lease keeps leaders from duelling; safety
 * does not rest on it — fenced writes (FencedLog) do that.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Clock } from './clock.js';

export interface LeaseOptions {
  readonly kv: KV;
  readonly key: string;
  /** Who we are (written as the value, for operators). */
  readonly holder: string;
  /** The bucket's TTL: a lease not renewed for this long is free. */
  readonly ttlMs: number;
  readonly clock: Clock;
}

export class Lease {
  private revision = 0;
  private renewedAt = 0;

  constructor(private readonly o: LeaseOptions) {}

  /** The term of the current holding (the KV revision that created it), 0 when not held. */
  term = 0;

  /** Tries to take the lease; true when we hold it now. */
  async tryAcquire(): Promise<boolean> {
    const value = new TextEncoder().encode(this.o.holder);
    try {
      this.revision = await this.o.kv.create(this.o.key, value);
    } catch {
      // Held. If the holder is this very process (an earlier incarnation of the actor,
      // killed by its supervisor), that incarnation is gone: take it over at once rather
      // than wait for the TTL. Anyone else's lease we leave to expire.
      try {
        const current = await this.o.kv.get(this.o.key);
        if (!current || current.operation !== 'PUT' || current.string() !== this.o.holder) return false;
        this.revision = await this.o.kv.update(this.o.key, value, current.revision);
      } catch {
        return false; // someone else won the race, or the server is unreachable: stay standby
      }
    }
    this.term = this.revision;
    this.renewedAt = this.o.clock.now();
    return true;
  }

  /**
   * Time between the last two good renewals (ms): how close the holder came to losing the
   * lease (it is lost once this reaches the TTL). For logs and benchmarks.
   */
  lastGapMs = 0;

  /** Renews; false means we lost it (or cannot prove we hold it) and must step down. */
  async renew(): Promise<boolean> {
    try {
      this.revision = await this.o.kv.update(this.o.key, new TextEncoder().encode(this.o.holder), this.revision);
      const now = this.o.clock.now();
      this.lastGapMs = now - this.renewedAt;
      this.renewedAt = now;
      return true;
    } catch (err) {
      // Someone else wrote the key: we lost it for certain.
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) return false;
      // A failed renewal is only fatal once our last good one has expired: until then
      // nobody else can have taken the key.
      return this.o.clock.now() - this.renewedAt < this.o.ttlMs * 0.8;
    }
  }

  /** Gives the lease up (graceful stop) so a standby takes over at once. */
  async release(): Promise<void> {
    if (this.term === 0) return;
    try {
      await this.o.kv.delete(this.o.key, { previousSeq: this.revision });
    } catch {
      /* already taken over or expired */
    }
    this.term = 0;
  }
}
