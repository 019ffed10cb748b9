/**
 * What every step module shares: the shape of a step (`StepFn` over a `StepContext`), its outcome,
 * the codes it may fail with, and the fence that stops a step whose actor has stopped.
 */
import type { InstanceSnapshot, StepError, StepName, MachineStepErrorCode } from '../../machines/instance/index.js';
import { isVirtError, type GuestInfo, type VirtErrorCode } from '../../virt/index.js';
import { commandsTaken } from '../../machines/gateway/index.js';
import type { InstanceRecord } from '../../protocol/index.js';

/**
 * A code a peer host's reply carried (its tracker's, its gate's, the transport's), passed on as it
 * is. Branded, so that a string literal in a step module is not taken for one.
 */
export type PeerErrorCode = string & { readonly __peerErrorCode: true };
export const peerCode = (code: string): PeerErrorCode => code as PeerErrorCode;

/** Every code a step on a compute host may fail with. */
export type StepFailureCode = MachineStepErrorCode | VirtErrorCode | PeerErrorCode;

export type StepResult =
  | { readonly ok: true; readonly result?: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly error: StepError<StepFailureCode> };

export interface StepContext {
  readonly step: StepName;
  /** `${instanceId}:${opId}:${step}`: the step converges when run again under it. */
  readonly key: string;
  readonly snapshot: InstanceSnapshot;
  /** Fires when the instance's actor stops (killed, its process stopping): the step ends and writes nothing more. */
  readonly signal: AbortSignal;
}

export type StepFn = (ctx: StepContext) => Promise<StepResult>;

/** The functions of the steps `S`: a family module's part of the registry (steps.ts). */
export type StepTable<S extends StepName> = { readonly [K in S]: StepFn };

export const done = (result?: Record<string, unknown>): StepResult => (result ? { ok: true, result } : { ok: true });
export const failed = (error: StepError<StepFailureCode>): StepResult => ({ ok: false, error });

/** The host's driver lacks an optional call (`what` it cannot do): nothing was held, the operation rolls back. */
export const unsupported = (code: StepFailureCode, host: string, what: string): StepResult =>
  failed({ code, message: `the driver of ${host} cannot ${what}`, rollback: true });

/** The step result that tells the actor its record now belongs to someone else. */
export const HANDED_OFF = 'handedOff';
export const handedOff = (): StepResult => done({ [HANDED_OFF]: true });

/** `sleep`, cut short (rejecting with the signal's reason) when `signal` fires. */
export function abortable(sleep: (ms: number) => Promise<void>, signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const stop = () => reject(signal.reason as Error);
      signal.addEventListener('abort', stop, { once: true });
      void sleep(ms).then(() => {
        signal.removeEventListener('abort', stop);
        resolve();
      });
    });
}

/**
 * `deps` as one run of a step sees them: every call of a method of any object reached from them
 * first checks `signal`, and throws its reason once it has fired. A step stopped by its actor so
 * writes nothing more, wherever it is, without a check of its own before each write. A call
 * already under way finishes; what a call returns is not wrapped.
 */
export function fenced<T extends object>(deps: T, signal: AbortSignal): T {
  const seen = new WeakMap<object, object>();
  const wrap = <U extends object>(target: U): U => {
    const known = seen.get(target);
    if (known) return known as U;
    const proxy = new Proxy(target, {
      get(t, prop) {
        const v: unknown = Reflect.get(t, prop, t);
        const own = Reflect.getOwnPropertyDescriptor(t, prop);
        if (own && !own.configurable && !own.writable) return v; // a proxy must give frozen values back as they are
        if (typeof v === 'function')
          return (...args: unknown[]): unknown => {
            signal.throwIfAborted();
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          };
        return v !== null && typeof v === 'object' ? wrap(v) : v;
      },
    });
    seen.set(target, proxy);
    return proxy;
  };
  return wrap(deps);
}

/** What a driver call of a step needs: how long to wait between tries, and how many. */
export interface DriverRetry {
  readonly sleep: (ms: number) => Promise<void>;
  /** Tries of a call that fails with a retryable driver error before the step fails. */
  readonly driverTries?: number;
}

/**
 * A driver call as a step: retried while the failure is transient; the final error becomes the
 * step's through `onError`. The guest's power state is the step's result.
 */
export async function driverStep(
  d: DriverRetry,
  call: () => Promise<GuestInfo | void>,
  onError: (code: VirtErrorCode, message: string) => StepError<StepFailureCode>,
): Promise<StepResult> {
  const tries = d.driverTries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      const g = await call();
      return done(g ? { powerState: g.powerState } : undefined);
    } catch (err) {
      if (isVirtError(err) && err.retryable && attempt < tries) {
        await d.sleep(100 * 2 ** (attempt - 1));
        continue;
      }
      if (isVirtError(err)) return failed(onError(err.code, err.message));
      throw err;
    }
  }
}

/**
 * What a record leaving its host without its machine keeps of the commands the machine took
 * (`taken`): a command sent on to the new owner afterwards is then known as taken.
 */
export function takenOf(r: InstanceRecord): string[] {
  return [...new Set([...(r.taken ?? []), ...commandsTaken(r)])].slice(-80);
}
