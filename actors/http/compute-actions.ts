/**
 * `POST /servers/{id}/action`: each of Nova's server actions as the instance's command (or, for
 * `os-getConsoleOutput`, a query), with Nova's policies and success statuses.
 */
import { atLeast, serverAction, serverView } from '../../machines/http/index.js';
import { imageIdOf } from '../records/index.js';
import type { ApiResponse } from './server.js';
import { NovaHttpError, ok, type ComputeCall, type ComputeRoute } from './compute-kit.js';
import { commandPlace, ID, refused, serverOf, viewContext } from './compute-servers.js';
import { isAdmin } from './tokens.js';

/** Nova's policy names of the admin-only actions, for its 403 message. */
const ADMIN_RULES: Readonly<Record<string, string>> = {
  migrate: 'os_compute_api:os-migrate-server:migrate',
  'os-migrateLive': 'os_compute_api:os-migrate-server:migrate_live',
  evacuate: 'os_compute_api:os-evacuate',
  shelveOffload: 'os_compute_api:os-shelve:shelve_offload',
};

async function action(c: ComputeCall) {
  const id = c.params[0]!;
  const a = serverAction(c.json, c.v);
  if (a.kind === 'console') {
    await serverOf(c, id);
    const r = await c.who.caller.query<{ output: string }>('instances.consoleLog', {
      instanceId: id,
      ...(a.length !== undefined ? { length: a.length } : {}),
    });
    return ok({ output: r.output });
  }
  if (a.adminOnly && !isAdmin(c.who)) {
    const name = Object.keys(c.json as object)[0]!;
    throw new NovaHttpError(403, `Policy doesn't allow ${ADMIN_RULES[name] ?? name} to be performed.`);
  }
  // What novactor honours only from the admin project (a forced host, evacuate, another project's
  // server) is sent there.
  const place = await commandPlace(c, id, a.adminProject);
  const outcome = await c.who.caller.command(id, a.action, a.body, place.project, place.owner);
  if (!outcome.accepted) {
    if (outcome.code === 'InstanceNotFound') throw new NovaHttpError(404, `Instance ${id} could not be found.`);
    refused(outcome);
  }
  if (a.action === 'snapshot') return createImageAnswer(c, id, outcome.commandId);
  if (a.status === 204) return { status: 204 };
  // Nova answers a rebuild with the server as it is now.
  if (a.action === 'rebuild') {
    const r = await serverOf(c, id);
    return ok({ server: serverView(r, (await viewContext(c, [r]))(r)) }, 202);
  }
  if (a.action === 'rescue') return ok({ adminPass: c.who.caller.ids.next().replace(/-/g, '').slice(0, 12) });
  if (a.status === 200) return ok(undefined, 200);
  return { status: 202 };
}

/**
 * `createImage`: 202 with the new image's id — a body from 2.45, a Location header before. The
 * snapshot's id is derived from the instance and the command (docs/protocol.md §8.8), so it is
 * known before the image is saved.
 */
function createImageAnswer(c: ComputeCall, id: string, commandId: string): ApiResponse {
  const imageId = imageIdOf(id, commandId);
  const location = `${c.url.replace(/\/compute\/v2\.1$/, '/image')}/v2/images/${imageId}`;
  return atLeast(c.v, 2, 45) ? ok({ image_id: imageId }, 202) : ok(undefined, 202, { location });
}

export const actionRoutes: readonly ComputeRoute[] = [
  {
    method: 'POST',
    path: new RegExp(`^/servers/${ID}/action$`),
    policy: 'write',
    rule: 'os_compute_api:servers:action',
    handle: action,
  },
];
