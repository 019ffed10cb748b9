/**
 * The gateway: takes user commands from NV_CMD (one durable consumer shared by every
 * gateway replica), judges them (machines/gateway), and then, in this order:
 * persists what the decision creates (a new instance record, CAS-created), publishes
 * the events and the work it causes (each with a deterministic Nats-Msg-Id), and only
 * then acks. A crash anywhere redelivers the command; a redelivered boot finds the record
 * it already wrote and finishes the remaining steps, and the dedup ids keep every event
 * and task single.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  commandType,
  decodeMessage,
  type CommandAddress,
  encodeMessage,
  envelope,
  MessageKind,
  parseCommandSubject,
  subjects,
  type BuildTask,
  type HostCommandTask,
  type InstanceAction,
  type InstanceRecord,
  type QuotaRecord,
} from '../../protocol/index.js';
import {
  commandRoute,
  decideCommand,
  isImageId,
  quotaClaimOf,
  routeTarget,
  type GatewayInputs,
  type IncomingCommand,
  type ProjectUsage,
} from '../../machines/gateway/index.js';
import { names, startConsumerLoop, type Outcome, eventPublisher, type Actor } from '../runtime/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { openStores, eventBodyOf, isHostDown, WatchedRecords, type Stores } from '../records/index.js';
import { DEFAULT_ZONE } from '../../machines/scheduling/index.js';
import { serveAdmin } from './admin.js';
import { PlacementClient } from '../placement/index.js';
import { ProjectInFlight } from './in-flight.js';
import { QuotaLedgers } from './quota-ledger.js';
import { serveQueries } from './queries.js';
import { serveImages } from './images.js';
import { serveGroups } from './groups.js';
import { bootNetworkFacts, serveNetworks, wantsPorts } from './networks.js';
import { serveVolumes } from './volumes.js';
import { VolumeStore } from '../../virt/index.js';
import { compileGatewayOptions, type GatewayOptions } from './options.js';

export type { GatewayOptions } from './options.js';

export async function startGateway(options: GatewayOptions): Promise<Actor> {
  const o = compileGatewayOptions(options);
  const prefix = o.prefix;
  const js = jetstream(o.nc);
  const jsm = await jetstreamManager(o.nc);
  const stores = await openStores(o.nc, prefix);
  const events = eventPublisher(js, o.clock, prefix);
  const s = subjects(prefix);
  const admins = new Set(o.adminUsers);
  const perProject = new ProjectInFlight(o.maxInFlightPerProject);
  // Read for every boot, written by operators now and then: kept by watching (issue 17).
  const flavorView = await WatchedRecords.start(stores.flavors, o.log);
  const quotaView = await WatchedRecords.start(stores.quotas, o.log);
  const ledgers = new QuotaLedgers({
    stores,
    quotas: quotaView,
    clock: o.clock,
    ...(o.defaultQuota ? { defaults: o.defaultQuota } : {}),
    ...(o.log ? { log: o.log } : {}),
  });

  const publishTask = async (
    subject: string,
    type: string,
    msgId: string,
    project: string,
    user: string,
    corr: string,
    body: BuildTask | HostCommandTask,
  ) => {
    const env = envelope({ id: msgId, type, ts: o.clock.now(), project, user, corr, body });
    await js.publish(subject, encodeMessage(env), { msgID: msgId });
  };

  const handle = async (m: JsMsg): Promise<Outcome> => {
    const addr = parseCommandSubject(m.subject, prefix);
    if (!addr.ok) {
      o.log?.(`dropping a message on ${m.subject}: ${addr.error.message}`);
      return 'term';
    }
    const project = addr.value.project;
    if (!perProject.tryAcquire(project)) return { retryAfterMs: 250 }; // later: other projects first
    try {
      return await judge(m, addr.value);
    } finally {
      perProject.release(project);
    }
  };

  /** A flavor from the watched view; one it does not hold (none, or made a moment ago elsewhere) is read. */
  const flavorNamed = async (name: string) => flavorView.lookup(name)?.value ?? (await stores.flavors.get(name))?.value;

  const judge = async (m: JsMsg, { project, instanceId, action }: CommandAddress): Promise<Outcome> => {
    const decoded = decodeMessage(m.data, MessageKind.Command);
    if (!decoded.ok) {
      // The refusal needs a corr: the envelope id if it can be read, else the Nats-Msg-Id.
      const corr = m.headers?.get('Nats-Msg-Id') || `seq-${m.seq}`;
      await events.rejected({
        project,
        user: 'unknown',
        instanceId,
        corr,
        code: 'InvalidInput',
        message: decoded.error.message,
      });
      return 'term';
    }
    const env = decoded.value;
    const reject = async (code: string, message: string): Promise<Outcome> => {
      // Authorization refusals are logged: they are either a client's mistake or a probe.
      if (code === 'NotAuthorized')
        o.log?.(`refused ${action} of ${instanceId} in project ${project} by ${env.user}: ${message}`);
      await events.rejected({ project, user: env.user, instanceId, corr: env.id, code, message });
      return 'ack';
    };
    if (env.type !== commandType(action as InstanceAction))
      return reject('InvalidInput', `type ${env.type} does not match the subject's action ${action}`);
    if (env.project !== project)
      return reject('NotAuthorized', `project ${env.project} may not act in project ${project}`);

    const cmd: IncomingCommand = {
      commandId: env.id,
      action: action as InstanceAction,
      body: env.body,
      project,
      instanceId,
      user: env.user,
      isAdmin: admins.has(env.user) && (o.adminProject === undefined || project === o.adminProject),
      ts: o.clock.now(),
    };
    const current = await stores.instances.get(instanceId);
    // A boot of a new id and a resize of a live instance name a flavor and may add usage.
    const needsFlavor =
      (action === 'boot' && !current) ||
      (action === 'resize' && current !== undefined && current.value.vmState !== 'deleted');
    const image = env.body['image'];
    const groupId = groupOf(env.body);
    const volumeId = action === 'boot' || action === 'volume_attach' ? volumeOf(env.body) : undefined;
    const inputs: GatewayInputs = {
      record: current?.value,
      ...(needsFlavor ? { flavor: await flavorNamed(String(env.body['flavor'])) } : {}),
      ...(isImageId(image) ? { image: (await stores.images.get(image.toLowerCase()))?.value } : {}),
      ...(groupId !== undefined ? { group: (await stores.groups.get(groupId))?.value } : {}),
      ...(env.body['availabilityZone'] !== undefined ? { zones: await zoneNames(stores) } : {}),
      ...(action === 'boot' && !current && wantsPorts(env.body['networks'])
        ? { networks: await bootNetworkFacts(stores, project, env.body['networks']) }
        : {}),
      ...(action === 'interface_attach' && current
        ? { networks: await bootNetworkFacts(stores, current.value.project, [env.body]) }
        : {}),
      ...(volumeId !== undefined ? { volume: (await stores.volumes.get(volumeId))?.value } : {}),
    };
    const decision = decideCommand(cmd, inputs);
    // What the command adds to the project's usage is judged against its quota ledger before
    // anything is written or sent: exactly, whatever else of the project runs at once.
    const claim = quotaClaimOf(decision, cmd, current?.value, inputs.flavor);
    if (claim) {
      const q = await ledgers.claim(current?.value.project ?? project, claim);
      if (!q.ok)
        return reject(
          'QuotaExceeded',
          `quota exceeded for ${q.resource} in project ${current?.value.project ?? project}: ${describeUsage(q.usage, q.quota)}`,
        );
    }

    switch (decision.kind) {
      case 'duplicate':
        o.log?.(`ignoring ${action} ${env.id} of ${instanceId}: that command was handled already (a replay)`);
        return 'ack';
      case 'reject':
        return reject(decision.code, decision.message);
      case 'create':
      case 'resumeCreate': {
        const record: InstanceRecord = decision.record;
        let revision = current?.revision;
        if (decision.kind === 'create') {
          try {
            revision = await stores.instances.create(instanceId, record);
          } catch (err) {
            if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
            return { retryAfterMs: 0 }; // a concurrent boot for the same id: decide again on the record it wrote
          }
        }
        await events.instance({
          project,
          user: env.user,
          instanceId,
          type: 'instance.create.start',
          corr: env.id,
          body: eventBodyOf(record),
          msgId: `${env.id}:create.start`,
        });
        const task: BuildTask = {
          instanceId,
          commandId: env.id,
          attempt: 1,
          tried: [],
          alternates: [],
          ...(revision !== undefined ? { written: { record, revision } } : {}),
        };
        await publishTask(
          s.conductor('build'),
          'conductor.build',
          `${env.id}:build:1`,
          project,
          env.user,
          env.id,
          task,
        );
        return 'ack';
      }
      case 'route':
      case 'toConductor': {
        const task: HostCommandTask = {
          instanceId,
          commandId: env.id,
          action,
          body: env.body,
          user: env.user,
          isAdmin: cmd.isAdmin,
        };
        // A delete for a host that is down goes to the conductor (a local delete): asked only then.
        const route = commandRoute(decision, cmd.action);
        const down = route.to === 'host' && route.localIfDown && (await isHostDown(stores, route.host));
        const target = routeTarget(route, down);
        const subject = target.to === 'host' ? s.host(target.host) : s.conductor('command');
        // In the owner's project: an admin's command from the admin project acts on, and its
        // events belong to, the instance's own project (hosts check the task against the record).
        await publishTask(
          subject,
          'host.command',
          `${env.id}:route`,
          current?.value.project ?? project,
          env.user,
          env.id,
          task,
        );
        return 'ack';
      }
    }
  };

  const n = names(prefix);
  const queries = serveQueries({
    nc: o.nc,
    stores,
    ledgers,
    clock: o.clock,
    ids: o.ids,
    prefix,
    ...(o.log ? { log: o.log } : {}),
  });
  const admin = serveAdmin({
    nc: o.nc,
    stores,
    ledgers,
    placement: new PlacementClient({ nc: o.nc, prefix, clock: o.clock, deadlineMs: 15_000 }),
    ...(o.defaultQuota ? { defaultQuota: o.defaultQuota } : {}),
    clock: o.clock,
    ids: o.ids,
    admins,
    ...(o.adminProject !== undefined ? { adminProject: o.adminProject } : {}),
    prefix,
    ...(o.log ? { log: o.log } : {}),
  });
  const served = { nc: o.nc, stores, clock: o.clock, ids: o.ids, prefix, ...(o.log ? { log: o.log } : {}) };
  const groupService = serveGroups(served);
  const imageService = serveImages(served);
  const netService = serveNetworks({
    ...served,
    isAdmin: (user, project) => admins.has(user) && (o.adminProject === undefined || project === o.adminProject),
  });
  const volumeService = serveVolumes({ ...served, volumeStore: new VolumeStore(o.volumeDir) });
  const loop = await startConsumerLoop({
    js,
    jsm,
    stream: n.streams.cmd,
    durable: 'gateway',
    filter: `${prefix}.cmd.>`,
    handle,
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    done: loop.done,
    kill: () => {
      queries.unsubscribe();
      admin.unsubscribe();
      imageService.unsubscribe();
      groupService.unsubscribe();
      netService.unsubscribe();
      volumeService.unsubscribe();
      loop.kill();
      flavorView.stop();
      quotaView.stop();
    },
    stop: async () => {
      await Promise.all([
        queries.drain(),
        admin.drain(),
        imageService.drain(),
        groupService.drain(),
        netService.drain(),
        volumeService.drain(),
      ]);
      await loop.stop();
      flavorView.stop();
      quotaView.stop();
    },
  };
}

/** The availability zones a boot may name: every zoned aggregate's, and the default zone. */
async function zoneNames(stores: Stores): Promise<ReadonlySet<string>> {
  const zones = (await stores.aggregates.entries()).flatMap((e) => e.value.availabilityZone ?? []);
  return new Set([DEFAULT_ZONE, ...zones]);
}

/** The volume a volume_attach names, or a boot's root volume mapping (the decoder checked their shape). */
function volumeOf(body: Record<string, unknown>): string | undefined {
  const bdm = (body['blockDeviceMapping'] as { sourceType: string; uuid?: string }[] | undefined)?.[0];
  return bdm ? (bdm.sourceType === 'volume' ? bdm.uuid : undefined) : (body['volumeId'] as string | undefined);
}

/** The server group a boot's scheduler hints name, if any (the decoder checked its shape). */
function groupOf(body: Record<string, unknown>): string | undefined {
  const hints = body['schedulerHints'] as { group?: string } | undefined;
  return hints?.group;
}

const limitOf = (n: number) => (n < 0 ? 'unlimited' : String(n));
function describeUsage(u: ProjectUsage, q: QuotaRecord): string {
  return `instances ${u.instances}/${limitOf(q.instances)}, cores ${u.cores}/${limitOf(q.cores)}, RAM ${u.ramMb}/${limitOf(q.ramMb)} MiB in use`;
}
