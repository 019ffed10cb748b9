/** A compute worker's `nv.rpc.<host>.*` faces: status for the auditor, and the steps other hosts ask of it. */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { rpcType, type FlavorView, type HostStatus } from '../../protocol/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { decodeRequest, respondError, respondOk, type ReplyContext } from '../runtime/request-reply.js';

export function serveStatus(nc: NatsConnection, subject: string, ctx: ReplyContext, status: () => Promise<HostStatus>, log: (line: string, err?: unknown) => void): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest(ctx, msg);
      if (!req) return;
      if (req.type !== rpcType('status')) {
        respondError(ctx, msg, req, { status: 400, code: 'InvalidInput', message: `${subject} answers ${rpcType('status')}, not ${req.type}` });
        return;
      }
      status().then(
        (body) => respondOk(ctx, msg, req, body),
        (e: unknown) => {
          log('status failed', e);
          respondError(ctx, msg, req, { status: 503, code: 'ServiceUnavailable', message: 'status could not be read now; retry' });
        },
      );
    },
  });
}

/** `nv.rpc.<host>.destroyGuest`: removes this host's guest of an instance that lives elsewhere now. */
export function serveDestroyGuest(nc: NatsConnection, subject: string, ctx: ReplyContext, driver: HypervisorDriver, log: (line: string, err?: unknown) => void): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<{ instanceId: string }>(ctx, msg);
      if (!req) return;
      if (req.type !== rpcType('destroyGuest')) {
        respondError(ctx, msg, req, { status: 400, code: 'InvalidInput', message: `${subject} answers ${rpcType('destroyGuest')}, not ${req.type}` });
        return;
      }
      driver.destroy(req.body.instanceId).then(
        () => respondOk(ctx, msg, req, {}),
        (e: unknown) => {
          log('destroyGuest failed', e);
          respondError(ctx, msg, req, { status: 503, code: 'ServiceUnavailable', message: 'the guest could not be destroyed now; retry' });
        },
      );
    },
  });
}

/** `nv.rpc.<host>.preLiveMigration`: the incoming guest of a live migration, paused until its post step. */
export function servePreLiveMigration(nc: NatsConnection, subject: string, ctx: ReplyContext, driver: HypervisorDriver, host: string, log: (line: string, err?: unknown) => void): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<{ instanceId: string; name: string; flavor: FlavorView; image: string | null }>(ctx, msg);
      if (!req) return;
      if (req.type !== rpcType('preLiveMigration')) {
        respondError(ctx, msg, req, { status: 400, code: 'InvalidInput', message: `${subject} answers ${rpcType('preLiveMigration')}, not ${req.type}` });
        return;
      }
      const b = req.body;
      (async () => {
        const g = await driver.spawn({ instanceId: b.instanceId, name: b.name, host, flavor: b.flavor, ...(b.image ? { image: b.image } : {}) });
        if (g.powerState === 'running') await driver.pause(b.instanceId);
      })().then(
        () => respondOk(ctx, msg, req, {}),
        (e: unknown) => {
          log('preLiveMigration failed', e);
          respondError(ctx, msg, req, { status: 503, code: 'ServiceUnavailable', message: 'the incoming guest could not be prepared now; retry' });
        },
      );
    },
  });
}
