/**
 * The success paths of the user CLI, as a real child process, against a whole cloud in the
 * test process (placement, gateway, conductor and one compute worker with the fake driver).
 */
import test from 'ava';
import { type Ran, runToEnd } from '../helpers/processes.js';
import { startCloud } from '../helpers/cloud.js';

const setup = startCloud([{ name: 'h1', vcpus: 8, ramMb: 16384, diskGb: 200 }]);
test.after.always(async () => {
  await (await setup).stop();
});

type Run = Ran;

async function cli(args: string[]): Promise<Run> {
  const cloud = await setup;
  return runToEnd([...args, '--server', cloud.server.url]);
}

test.serial(
  'cli lifecycle - boot --wait ends ACTIVE on h1 (exit 0); every power command --wait succeeds; delete --wait removes it',
  async (t) => {
    const boot = await cli(['boot', 'web-1', '--flavor', 'm1.small', '--wait']);
    t.is(boot.code, 0, boot.err);
    const id = /^instance (\S+)$/m.exec(boot.out)?.[1];
    t.truthy(id, boot.out);
    t.regex(boot.out, /^instance\.create\.end: instance \S+ is ACTIVE \(active\/-\/running\) on h1$/m);

    const steps: [string[], RegExp][] = [
      [['stop', id!], /is STOPPED \(stopped\/-\/shutdown\)/],
      [['start', id!], /is ACTIVE \(active\/-\/running\)/],
      [['reboot', id!], /^instance\.reboot\.end: .* is ACTIVE/m],
      [['reboot', id!, '--hard'], /^instance\.reboot\.end: .* is ACTIVE/m],
      [['pause', id!], /is PAUSED/],
      [['unpause', id!], /is ACTIVE/],
      [['suspend', id!], /is SUSPENDED/],
      [['resume', id!], /is ACTIVE/],
      [['trigger-crash-dump', id!], /^instance\.trigger_crash_dump\.end: .* is ACTIVE \(active\/-\/running\)/m],
      [['rename', id!, 'web-1b'], /^instance\.update: .* is ACTIVE \(active\/-\/running\)/m],
    ];
    for (const [args, expected] of steps) {
      const r = await cli([...args, '--wait']);
      t.is(r.code, 0, `${args.join(' ')}: ${r.err}`);
      t.regex(r.out, expected, args.join(' '));
    }

    const shown = JSON.parse((await cli(['show', id!, '--json'])).out) as {
      instance: { vmState: string; host: string; name: string };
    };
    t.like(shown.instance, { vmState: 'active', host: 'h1', name: 'web-1b' });

    const again = await cli(['unpause', id!, '--wait']);
    t.is(again.code, 1, 'unpause of an active instance is rejected');
    t.regex(again.err, /command\.rejected: InstanceInvalidState: /);
    const guest = await (await setup).hosts.get('h1')?.fake.guest(id!);
    t.is(guest?.crashDumps, 1, 'the guest took the NMI');

    t.is((await cli(['stop', id!, '--wait'])).code, 0);
    const dumpStopped = await cli(['trigger-crash-dump', id!, '--wait']);
    t.is(dumpStopped.code, 1, 'a stopped instance takes no NMI (Nova: active, paused, rescued, resized or error)');
    t.regex(dumpStopped.err, /command\.rejected: InstanceInvalidState: cannot trigger_crash_dump /);

    const del = await cli(['delete', id!, '--wait', '--json']);
    t.is(del.code, 0, del.err);
    t.like(JSON.parse(del.out), { instanceId: id, ok: true, event: { type: 'instance.delete.end' } });
    const gone = await cli(['show', id!]);
    t.is(gone.code, 1);
    t.regex(gone.err, /404 InstanceNotFound/);
  },
);

test.serial(
  'cli lifecycle - hosts shows h1 alive with its placement usage; a disabled h1 takes no new boot',
  async (t) => {
    const boot = await cli(['boot', 'db-1', '--flavor', 'm1.medium', '--wait']);
    t.is(boot.code, 0, boot.err);
    const hosts = JSON.parse((await cli(['hosts', '--json'])).out) as {
      hosts: {
        host: string;
        alive: boolean;
        lastSeen: number | null;
        usage: Record<string, { used: number; capacity: number }> | null;
      }[];
    };
    const h1 = hosts.hosts.find((h) => h.host === 'h1');
    t.like(h1, {
      host: 'h1',
      alive: true,
      usage: { VCPU: { used: 2, capacity: 8 }, MEMORY_MB: { used: 4096, capacity: 16384 } },
    });
    t.true(typeof h1?.lastSeen === 'number');
    const table = await cli(['hosts']);
    t.regex(table.out, /^h1\s+up\s+true\s+false\s+-\s+\S+Z\s+2\/8\s+4096\/16384\s+40\/200$/m);

    t.is((await cli(['host', 'disable', 'h1', '--reason', 'maintenance'])).code, 0);
    const refused = await cli(['boot', 'db-2', '--flavor', 'm1.tiny', '--wait']);
    t.is(refused.code, 1);
    t.regex(refused.err, /instance\.create\.error: NoValidHost: /);
    t.is((await cli(['host', 'enable', 'h1'])).code, 0);
    const ok = await cli(['boot', 'db-3', '--flavor', 'm1.tiny', '--wait']);
    t.is(ok.code, 0, ok.err);
  },
);

test.serial(
  'cli lifecycle - snapshot --name and images; shelve --wait offloads (shelved_offload_time 0), unshelve --wait brings it back; shelve-offload of an offloaded instance exits 1',
  async (t) => {
    const boot = await cli(['boot', 'shelf-1', '--flavor', 'm1.tiny', '--wait']);
    t.is(boot.code, 0, boot.err);
    const id = /^instance (\S+)$/m.exec(boot.out)?.[1];
    const snap = await cli(['snapshot', id!, '--name', 'shelf-1-snap', '--wait']);
    t.is(snap.code, 0, snap.err);
    t.regex(snap.out, /^instance\.snapshot\.end: .* is ACTIVE/m);
    const images = await cli(['images', '--instance', id!]);
    t.is(images.code, 0, images.err);
    t.regex(images.out, /shelf-1-snap +\S+ +snapshot +active/);
    const shelve = await cli(['shelve', id!, '--wait']);
    t.is(shelve.code, 0, shelve.err);
    t.regex(shelve.out, /^instance\.shelve_offload\.end: .* is SHELVED_OFFLOADED/m);
    const again = await cli(['shelve-offload', id!, '--wait']);
    t.is(again.code, 1);
    t.regex(again.err, /command\.rejected: InstanceInvalidState: /);
    const listed = JSON.parse((await cli(['images', '--json'])).out) as {
      images: { kind: string; instanceId: string }[];
    };
    t.deepEqual(
      listed.images
        .filter((i) => i.instanceId === id)
        .map((i) => i.kind)
        .sort(),
      ['shelved', 'snapshot'],
    );
    const un = await cli(['unshelve', id!, '--wait']);
    t.is(un.code, 0, un.err);
    t.regex(un.out, /^instance\.unshelve\.end: .* is ACTIVE .* on h1$/m);
    const noSnap = await cli(['snapshot', id!]);
    t.is(noSnap.code, 2, 'snapshot needs --name');
    t.is((await cli(['delete', id!, '--wait'])).code, 0);
  },
);

test.serial(
  'cli lifecycle - console-log: the fake driver keeps no console (409, exit 1); an unknown id is 404',
  async (t) => {
    const boot = await cli(['boot', 'console-1', '--flavor', 'm1.tiny', '--wait']);
    t.is(boot.code, 0, boot.err);
    const id = /^instance (\S+)$/m.exec(boot.out)![1]!;
    const fake = await cli(['console-log', id]);
    t.is(fake.code, 1);
    t.regex(fake.err, /409 ConsoleNotAvailable: .*keeps no console/);
    const unknown = await cli(['console-log', 'no-such-instance']);
    t.is(unknown.code, 1);
    t.regex(unknown.err, /404 InstanceNotFound/);
    const bad = await cli(['console-log', id, '--length', '0']);
    t.is(bad.code, 2, 'a usage error');
    t.is((await cli(['delete', id, '--wait'])).code, 0);
  },
);
