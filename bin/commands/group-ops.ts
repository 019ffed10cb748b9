/**
 * Server groups (docs/scheduling.md): `server-group create NAME --policy P [--rule
 * max_server_per_host=N]`, `server-group list`, `server-group show ID`, `server-group delete ID`;
 * `boot --group ID` places an instance under its group's policy.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { GROUP_POLICIES, type GroupPolicy, type ServerGroupView } from '../../protocol/index.js';
import { UsageError } from '../options.js';
import { runClient, tokenArg, withClientOptions, type ClientOptions } from '../client/session.js';
import { table } from '../table.js';

/** `--rule max_server_per_host=N` (Nova's rule name, as `openstack server group create --rule` takes it). */
function rulesOf(rules: readonly string[], policy: GroupPolicy): { maxServerPerHost?: number } {
  const out: { maxServerPerHost?: number } = {};
  for (const r of rules) {
    const m = /^max_server_per_host=([0-9]+)$/.exec(r);
    if (!m || Number(m[1]) < 1)
      throw new UsageError(`--rule must be max_server_per_host=N with N ≥ 1, got ${JSON.stringify(r)}`);
    out.maxServerPerHost = Number(m[1]);
  }
  if (out.maxServerPerHost !== undefined && policy !== 'anti-affinity')
    throw new UsageError('--rule max_server_per_host needs --policy anti-affinity');
  return out;
}

export function registerGroupOps(program: Command): void {
  const group = program
    .command('server-group')
    .description('server groups: instances placed together (affinity) or apart (anti-affinity)');
  withClientOptions(
    group
      .command('create <name>')
      .description('create a server group; boot its members with `boot --group <its id>`')
      .requiredOption('--policy <policy>', GROUP_POLICIES.join(', '))
      .option('--rule <key=value>', 'max_server_per_host=N (anti-affinity only); repeatable', collect, []),
  ).action((name: string, o: ClientOptions & { policy: string; rule: string[] }) =>
    runClient(o, () => {
      if (name.length === 0 || name.length > 255) throw new UsageError('the group name must be 1-255 characters');
      if (!(GROUP_POLICIES as readonly string[]).includes(o.policy))
        throw new UsageError(`--policy must be one of ${GROUP_POLICIES.join(', ')}, got ${JSON.stringify(o.policy)}`);
      const policy = o.policy as GroupPolicy;
      const rules = rulesOf(o.rule, policy);
      // One request id for every retry: a create sent again makes one group.
      const id = randomUUID();
      return async (c) => {
        const r = await c.group<{ group: ServerGroupView }>('create', { name, policy, rules }, id);
        return c.json ? r : groupTable([r.group]);
      };
    }),
  );
  withClientOptions(group.command('list').description("the project's server groups")).action((o: ClientOptions) =>
    runClient(o, () => async (c) => {
      const r = await c.group<{ groups: ServerGroupView[] }>('list', {});
      return c.json ? r : groupTable(r.groups);
    }),
  );
  withClientOptions(group.command('show <id>').description('one server group and its members')).action(
    (id: string, o: ClientOptions) =>
      runClient(o, () => {
        const groupId = tokenArg('the group id', id);
        return async (c) => {
          const r = await c.group<{ group: ServerGroupView }>('show', { groupId });
          return c.json ? r : groupTable([r.group]);
        };
      }),
  );
  withClientOptions(
    group.command('delete <id>').description('delete a server group (its members keep running, in no group)'),
  ).action((id: string, o: ClientOptions) =>
    runClient(o, () => {
      const groupId = tokenArg('the group id', id);
      return async (c) => {
        await c.group('delete', { groupId });
        return c.json ? {} : `deleted server group ${groupId}`;
      };
    }),
  );
}

const collect = (v: string, all: string[]): string[] => [...all, v];

function groupTable(groups: readonly ServerGroupView[]): string {
  return table(
    ['ID', 'NAME', 'POLICY', 'RULES', 'MEMBERS'],
    groups.map((g) => [
      g.id,
      g.name,
      g.policy,
      g.rules.maxServerPerHost !== undefined ? `max_server_per_host=${g.rules.maxServerPerHost}` : '-',
      g.members.length === 0 ? '-' : g.members.join(','),
    ]),
  );
}
