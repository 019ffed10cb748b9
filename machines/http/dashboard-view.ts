/**
 * What the dashboard's event stream sends (docs/http-api.md, Dashboard): a lifecycle or system
 * event as one server-sent event whose data is JSON in the Compute API's words — an instance's
 * state fields exactly as `GET /servers/{id}` names them (serverStates), so the page updates a
 * row from an event with the same code that draws it from the API. Pure.
 */
import type { Envelope } from '../../protocol/index.js';
import { serverStates } from './server-view.js';

/** The project of system events (`nv.evt._system.…`, docs/protocol.md §8.4). */
const SYSTEM = '_system';

/** One event as the page reads it. */
export interface DashboardEvent {
  readonly id: string;
  readonly type: string;
  readonly ts: number;
  readonly project: string;
  /** The command it follows from, when a command caused it. */
  readonly corr?: string;
  readonly instanceId?: string;
  readonly name?: string;
  /** The command's terminal event. */
  readonly final?: boolean;
  /** `code: message` of an `.error` event or a refusal. */
  readonly fault?: string;
  /** The server after it, in the API's fields: id, name, project, flavor, `status`, `OS-EXT-STS:*`, an admin's host. */
  readonly server?: Record<string, unknown>;
  /** A system event's subject: the service, the placement node, the host an audit healed. */
  readonly system?: { readonly name: string; readonly detail: string };
}

/** A field as bounded text ('' when it is not text): an event's body is shown, never trusted. */
const text = (v: unknown, max = 256): string => (typeof v === 'string' ? v.slice(0, max) : '');

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** An envelope as the page's event; `admin` adds where the instance runs (Nova shows hosts to admins only). */
export function dashboardEvent(e: Envelope, admin: boolean): DashboardEvent {
  const b = e.body;
  const head = { id: e.id, type: e.type, ts: e.ts, project: e.project, ...(e.corr ? { corr: e.corr } : {}) };
  if (e.project === SYSTEM) {
    const list = b['repaired'];
    const repaired = Array.isArray(list) ? `${list.length} repaired` : '';
    const detail = [text(b['role']), b['leader'] === true ? 'leader' : '', repaired].filter(Boolean).join(' ');
    return { ...head, system: { name: text(b['name']) || text(b['host']), detail } };
  }
  const fault = b['fault'] as { code?: unknown; message?: unknown } | undefined;
  const out: DashboardEvent = {
    ...head,
    instanceId: text(b['instanceId']),
    ...(typeof b['name'] === 'string' ? { name: text(b['name']) } : {}),
    ...(b['final'] === true ? { final: true } : {}),
    ...(fault && typeof fault === 'object' ? { fault: `${text(fault.code)}: ${text(fault.message, 1024)}` } : {}),
    ...(e.type === 'command.rejected' ? { fault: `${text(b['code'])}: ${text(b['message'], 1024)}` } : {}),
  };
  const [vm, power, taskState] = [b['vmState'], b['powerState'], b['taskState']];
  if (typeof vm !== 'string' || typeof power !== 'string') return out;
  const task = typeof taskState === 'string' ? taskState : null;
  const flavor = b['flavor'] as { name?: unknown; vcpus?: unknown; memoryMb?: unknown; rootGb?: unknown } | undefined;
  // The server as `GET /servers/{id}` (2.47 and later) shows these fields: a row can be drawn from the event alone.
  const server: Record<string, unknown> = {
    id: out.instanceId,
    ...(out.name !== undefined ? { name: out.name } : {}),
    tenant_id: e.project,
    ...serverStates(vm, task, power),
  };
  if (flavor && typeof flavor === 'object' && typeof flavor.name === 'string')
    server['flavor'] = {
      original_name: text(flavor.name),
      vcpus: num(flavor.vcpus),
      ram: num(flavor.memoryMb),
      disk: num(flavor.rootGb),
    };
  if (admin) server['OS-EXT-SRV-ATTR:host'] = typeof b['host'] === 'string' ? text(b['host']) : null;
  return { ...out, server };
}

/**
 * One server-sent event: `id`, `event` and one `data` line (JSON never holds a raw newline); the
 * id and name lose any line break, which would end the field early.
 */
export function sseFrame(event: string, data: unknown, id?: string): string {
  const clean = (s: string) => s.replace(/[\r\n]/g, '');
  return `${id !== undefined ? `id: ${clean(id)}\n` : ''}event: ${clean(event)}\ndata: ${JSON.stringify(data)}\n\n`;
}
