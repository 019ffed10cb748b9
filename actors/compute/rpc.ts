/**
 * A compute worker's `nv.rpc.<host>.*` faces: status for the auditor, and the steps other hosts ask of it
 * (docs/security.md, cross-host calls).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { PEER_OPS } from '../../machines/instance/index.js';
import {
  parsePeerSubject,
  rpcType,
  subjects,
  type FlavorView,
  type HostStatus,
  type InstancePort,
} from '../../protocol/index.js';
import { nicsOf } from './guest-nics.js';
import { isVirtError, VirtErrorCode, type HypervisorDriver, type VolumeConnection } from '../../virt/index.js';
import type { PeerGate } from './peer-gate.js';
import { decodeRequest, respondError, respondOk, type ReplyContext } from '../runtime/index.js';

export function serveStatus(
  nc: NatsConnection,
  subject: string,
  ctx: ReplyContext,
  status: () => Promise<HostStatus>,
  log: (line: string, err?: unknown) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest(ctx, msg);
      if (!req) return;
      if (req.type !== rpcType('status')) {
        respondError(ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `${subject} answers ${rpcType('status')}, not ${req.type}`,
        });
        return;
      }
      status().then(
        (body) => respondOk(ctx, msg, req, body),
        (e: unknown) => {
          log('status failed', e);
          respondError(ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: 'status could not be read now; retry',
          });
        },
      );
    },
  });
}

/** What a console reply carries at most: its last 64 KiB (the reply schema's bound). */
const CONSOLE_MAX = 65_536;

/** The last `length` lines of `text` (all without it), cut to the last CONSOLE_MAX characters. */
export function consoleTail(text: string, length?: number): string {
  let out = text;
  if (length !== undefined) {
    const lines = text.split('\n');
    const end = lines.at(-1) === '' ? lines.length - 1 : lines.length; // a final newline ends a line, not starts one
    out = lines.slice(Math.max(0, end - length)).join('\n');
  }
  return out.length > CONSOLE_MAX ? out.slice(out.length - CONSOLE_MAX) : out;
}

/**
 * `nv.rpc.<host>.consoleLog`: a guest's console output, for the gateway's `instances.consoleLog`
 * query (Nova's get_console_output). Read-only; no record is touched.
 */
export function serveConsole(
  nc: NatsConnection,
  subject: string,
  ctx: ReplyContext,
  driver: HypervisorDriver,
  log: (line: string, err?: unknown) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<{ instanceId: string; length?: number }>(ctx, msg);
      if (!req) return;
      if (req.type !== rpcType('consoleLog')) {
        respondError(ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `${subject} answers ${rpcType('consoleLog')}, not ${req.type}`,
        });
        return;
      }
      const { instanceId, length } = req.body;
      if (!driver.consoleOutput) {
        respondError(ctx, msg, req, {
          status: 409,
          code: 'ConsoleNotAvailable',
          message: `the ${driver.constructor.name} of ${driver.host} keeps no console (the libvirt driver does)`,
        });
        return;
      }
      driver.consoleOutput(instanceId).then(
        (text) => respondOk(ctx, msg, req, { output: consoleTail(text, length) }),
        (e: unknown) => {
          if (isVirtError(e, VirtErrorCode.GuestNotFound))
            return respondError(ctx, msg, req, {
              status: 404,
              code: 'InstanceNotFound',
              message: `no guest of ${instanceId} on ${driver.host}`,
            });
          log(`console of ${instanceId} could not be read`, e);
          respondError(ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: 'the console could not be read now; retry',
          });
        },
      );
    },
  });
}

export interface PeerCallDeps {
  readonly nc: NatsConnection;
  readonly host: string;
  readonly prefix?: string;
  readonly ctx: ReplyContext;
  readonly driver: HypervisorDriver;
  readonly gate: PeerGate;
  readonly log: (line: string, err?: unknown) => void;
  /** A volume-backed instance's root volume, read from its records (root-volume.ts); absent: none. */
  readonly rootVolumeOf?: (instanceId: string) => Promise<{ rootVolume?: VolumeConnection }>;
}

type PeerBody = { instanceId: string; migrationId: string; epoch: number; revision: number; stepKey: string };
type PreLiveBody = PeerBody & { name: string; flavor: FlavorView; image: string | null; ports?: InstancePort[] };

/**
 * `nv.rpc.<host>.from.<caller>.<op>`: what other hosts ask of this one in a move — destroy
 * this host's guest of an instance that lives elsewhere now (`destroyGuest`), or make the
 * incoming, paused guest of a live migration (`preLiveMigration`). The caller is the one the
 * subject names (the server lets a host publish only under its own name), and each call is
 * judged against the records first (machines/instance/peer-calls.ts): refused, it changes
 * nothing.
 */
export function servePeerCalls(d: PeerCallDeps): Subscription {
  const s = subjects(d.prefix);
  return d.nc.subscribe(`${s.prefix}.rpc.${d.host}.from.*.*`, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<PeerBody>(d.ctx, msg);
      if (!req) return;
      const addr = parsePeerSubject(msg.subject, 'rpc', d.host, s.prefix);
      const op = addr.ok ? PEER_OPS.find((o) => o === addr.value.op) : undefined;
      if (!addr.ok || !op || req.type !== rpcType(op)) {
        respondError(d.ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `${msg.subject} does not answer ${req.type}`,
        });
        return;
      }
      const caller = addr.value.caller;
      const b = req.body;
      (async () => {
        const refusal = await d.gate(op, caller, {
          instanceId: b.instanceId,
          migrationId: b.migrationId,
          epoch: b.epoch,
          revision: b.revision,
          stepKey: b.stepKey,
        });
        if (refusal) return { refusal };
        if (op === 'destroyGuest') await d.driver.destroy(b.instanceId);
        else return { reply: await prepareIncoming(d, req.body as PreLiveBody) };
        return { reply: {} };
      })().then(
        (r) =>
          'refusal' in r && r.refusal
            ? respondError(d.ctx, msg, req, r.refusal)
            : respondOk(d.ctx, msg, req, 'reply' in r ? r.reply : {}),
        (e: unknown) => {
          d.log(`${op} from ${caller} failed`, e);
          respondError(d.ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: `${op} could not be done now; retry`,
          });
        },
      );
    },
  });
}

/**
 * The incoming side of a live migration; repeating it is harmless. A hypervisor that migrates
 * guests itself (libvirt) prepares the disks and answers `{ target }`, where the source sends
 * the guest; for the others this host makes the incoming guest, paused until the post step.
 */
async function prepareIncoming(d: PeerCallDeps, b: PreLiveBody): Promise<Record<string, unknown>> {
  const spec = {
    instanceId: b.instanceId,
    name: b.name,
    host: d.host,
    flavor: b.flavor,
    ...(b.image ? { image: b.image } : {}),
    // The guest arrives with its interfaces: under libvirt, its taps on this host's bridges.
    ...nicsOf(b.ports),
    // And on its root volume, which this host reads where the source did (no copy).
    ...(d.rootVolumeOf ? await d.rootVolumeOf(b.instanceId) : {}),
  };
  if (d.driver.prepareIncoming) return { target: await d.driver.prepareIncoming(spec) };
  const g = await d.driver.spawn(spec);
  if (g.powerState === 'running') await d.driver.pause(b.instanceId);
  return {};
}
