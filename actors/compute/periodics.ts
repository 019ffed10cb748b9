/**
 * A compute host's periodic tasks (docs/instances.md, Periodic tasks) as supervised actors on the injected
 * clock: each reads what it needs, asks the pure decision in machines/periodics/ what is
 * due, and acts — instance periodics by sending an event to the instance's own actor (the
 * machine decides whether it still applies when it arrives), the migration cleanup by
 * destroying, deleting allocations and closing the record itself.
 */
import {
  autoConfirmDue,
  buildTimeoutDue,
  incompleteMigrationsDue,
  powerSyncApplies,
  powerSyncDue,
  rebootTimeoutDue,
  reclaimDue,
  rescueTimeoutDue,
  shelvedOffloadDue,
  type InstancePeriodicInput,
} from '../../machines/periodics/index.js';
import {
  inFlightStep,
  type InstanceContext,
  type InstanceEvent,
  type StepName,
} from '../../machines/instance/index.js';
import type { InstanceRecord, MigrationRecord } from '../../protocol/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { type Clock, periodic, type ActorSpec } from '../runtime/index.js';
import { type RecordBucket, isOpenMigration } from '../records/index.js';
import type { InstanceHost } from './instances.js';
import { DEFAULT_SHELVED_POLL_MS, DEFAULT_SYNC_POWER_STATE_MS, type PeriodicsConfig } from './options.js';

export type { PeriodicsConfig } from './options.js';

/** One instance as a periodic sees it: its actor's context and in-flight step, and its mailbox. */
export interface PeriodicInstance {
  readonly context: InstanceContext;
  readonly inFlight: { readonly step: StepName; readonly key: string } | undefined;
  send(event: InstanceEvent): Promise<void>;
}

/** The instances a host runs actors for (tests substitute their own). */
export interface InstanceSource {
  ids(): string[];
  view(id: string): Promise<PeriodicInstance | undefined>;
}

export function instanceSource(host: InstanceHost): InstanceSource {
  return {
    ids: () => host.ids(),
    view: async (id) => {
      const actor = await host.get(id);
      const snapshot = await actor?.view();
      if (!actor || !snapshot) return undefined;
      return {
        context: snapshot.context,
        inFlight: inFlightStep(snapshot),
        send: async (e) => void (await actor.send(e)),
      };
    },
  };
}

export interface PeriodicsDeps {
  readonly host: string;
  readonly instances: InstanceSource;
  readonly driver: Pick<HypervisorDriver, 'get' | 'powerOff'>;
  readonly clock: Clock;
  readonly log: (line: string, err?: unknown) => void;
  /** The periodics' jitter source (see periodic()). */
  readonly jitter?: () => number;
}

/**
 * Nova polls every 60 s by default; a threshold shorter than two polls is polled faster, so it is met within half its
 * length.
 */
export const pollEvery = (thresholdMs: number) => Math.min(60_000, Math.max(100, Math.floor(thresholdMs / 2)));

/** The per-instance periodics the config turns on. */
export function instancePeriodics(d: PeriodicsDeps, cfg: PeriodicsConfig): ActorSpec[] {
  const spec = (name: string, everyMs: number, run: () => Promise<void>) =>
    periodic({ name, everyMs, run, clock: d.clock, log: d.log, ...(d.jitter ? { jitter: d.jitter } : {}) });
  const each = (name: string, decide: (i: InstancePeriodicInput) => InstanceEvent | null) => async () => {
    for (const id of d.instances.ids()) {
      try {
        const inst = await d.instances.view(id);
        if (!inst) continue;
        const event = decide({ context: inst.context, inFlight: inst.inFlight, now: d.clock.now() });
        if (!event) continue;
        await inst.send(event);
        d.log(
          `compute ${d.host}: ${name}: sent ${event.type === 'COMMAND' ? `${event.action} ${event.id}` : `${event.type} ${event.step}`} to ${id}, last updated ${d.clock.now() - inst.context.updatedAt} ms ago`,
        );
      } catch (err) {
        // One instance's trouble (a fenced actor) must not starve the others.
        d.log(`compute ${d.host}: ${name} of ${id} failed`, err);
      }
    }
  };
  const out: ActorSpec[] = [];
  const on = (ms: number | undefined) => ms !== undefined && ms > 0;
  if (on(cfg.buildTimeoutMs))
    out.push(
      spec(
        'buildTimeout',
        pollEvery(cfg.buildTimeoutMs!),
        each('build timeout', (i) => buildTimeoutDue(i, cfg.buildTimeoutMs!)),
      ),
    );
  if (on(cfg.rebootTimeoutMs))
    out.push(
      spec(
        'rebootTimeout',
        pollEvery(cfg.rebootTimeoutMs!),
        each('reboot timeout', (i) => rebootTimeoutDue(i, cfg.rebootTimeoutMs!)),
      ),
    );
  if (on(cfg.rescueTimeoutMs))
    out.push(
      spec(
        'rescueTimeout',
        pollEvery(cfg.rescueTimeoutMs!),
        each('rescue timeout', (i) => rescueTimeoutDue(i, cfg.rescueTimeoutMs!)),
      ),
    );
  if (on(cfg.resizeConfirmWindowMs))
    out.push(
      spec(
        'autoConfirm',
        pollEvery(cfg.resizeConfirmWindowMs!),
        each('auto-confirm', (i) => autoConfirmDue(i, cfg.resizeConfirmWindowMs!)),
      ),
    );
  if (on(cfg.reclaimIntervalMs))
    out.push(
      spec(
        'reclaim',
        pollEvery(cfg.reclaimIntervalMs!),
        each('reclaim', (i) => reclaimDue(i, cfg.reclaimIntervalMs!)),
      ),
    );
  if (on(cfg.shelvedOffloadMs))
    out.push(
      spec(
        'shelvedOffload',
        cfg.shelvedPollMs ?? DEFAULT_SHELVED_POLL_MS,
        each('shelved offload', (i) => shelvedOffloadDue(i, cfg.shelvedOffloadMs!)),
      ),
    );
  const syncMs = cfg.syncPowerStateMs ?? DEFAULT_SYNC_POWER_STATE_MS;
  if (syncMs > 0) out.push(spec('syncPowerStates', syncMs, () => syncPowerStates(d)));
  return out;
}

/** Nova's _sync_power_states: reads each idle instance's guest, then does what powerSyncDue says. */
export async function syncPowerStates(d: PeriodicsDeps): Promise<void> {
  for (const id of d.instances.ids()) await syncPowerState(d, id);
}

/**
 * One instance's power-state sync: by the periodic, and at once when the hypervisor reports that
 * the guest changed state by itself (Nova's handle_lifecycle_event: a QEMU killed, a guest that
 * shut itself down). An instance with an operation in flight is left to that operation.
 */
export async function syncPowerState(d: PeriodicsDeps, id: string): Promise<void> {
  const inst = await d.instances.view(id);
  if (!inst || !powerSyncApplies(inst.context)) return;
  const guest = await d.driver.get(id).catch(() => undefined);
  if (!guest) return; // a missing guest is the audit's to report (I7)
  const decision = powerSyncDue(
    { context: inst.context, inFlight: inst.inFlight, now: d.clock.now() },
    guest.powerState,
  );
  if (decision === null) return;
  if ('send' in decision) {
    await inst.send(decision.send);
    d.log(`compute ${d.host}: ${id} was ${inst.context.vmState} but its guest is ${guest.powerState}: stopped`);
  } else {
    await d.driver.powerOff(id);
    d.log(`compute ${d.host}: ${id} is stopped but its guest was running: powered off`);
  }
}

export interface MigrationCleanupDeps {
  readonly host: string;
  readonly migrations: RecordBucket<MigrationRecord>;
  readonly instances: Pick<RecordBucket<InstanceRecord>, 'get'>;
  readonly driver: Pick<HypervisorDriver, 'get' | 'destroy'>;
  readonly placement: { deleteAllocations(consumer: string): Promise<void> };
  /** Drops this host's actor of an instance whose guest goes. */
  readonly forget: (instanceId: string) => void;
  readonly clock: Clock;
  readonly log: (line: string, err?: unknown) => void;
}

/**
 * Nova's _cleanup_incomplete_migrations: for each failed move incompleteMigrationsDue names,
 * the local guest goes, the migration consumer's allocations go, and the record becomes
 * `failed` (so the next run skips it). Each part is idempotent: a run cut short is re-run.
 */
export async function cleanupIncompleteMigrations(d: MigrationCleanupDeps): Promise<void> {
  const moves = (await d.migrations.entries((key, err) => d.log(`skipping migration record ${key}`, err))).map(
    (e) => e.value,
  );
  const facts = new Map<string, InstanceRecord | undefined>();
  for (const m of moves)
    if (m.status === 'error' && !facts.has(m.instanceId))
      facts.set(m.instanceId, (await d.instances.get(m.instanceId))?.value);
  for (const m of incompleteMigrationsDue(moves, (id) => facts.get(id), d.host, isOpenMigration)) {
    if (await d.driver.get(m.instanceId).catch(() => undefined)) {
      d.forget(m.instanceId);
      await d.driver.destroy(m.instanceId);
    }
    await d.placement.deleteAllocations(m.migrationId);
    const cur = await d.migrations.get(m.migrationId);
    if (!cur || cur.value.status !== 'error') continue; // someone else moved it on
    await d.migrations.update(
      m.migrationId,
      { ...cur.value, status: 'failed', updatedAt: d.clock.now() },
      cur.revision,
    );
    d.log(
      `compute ${d.host}: cleaned up incomplete migration ${m.migrationId} of ${m.instanceId}: guest, allocations, status failed`,
    );
  }
}
