/**
 * I5: every accepted command has exactly one terminal event. Rules in docs/audit.md.
 */
import type { Observation, Violation } from './observation.js';

/**
 * Zero terminals is a lost command (the audit is for a quiet system, so one still in flight
 * counts as lost), two or more a duplicated one. A command read twice from NV_CMD (a retry
 * outside the dedup window) is one command; an event with the same envelope id read twice is one
 * terminal (clients ignore an id they have handled). Terminals of unknown commands are ignored:
 * the conductor and hosts may end internal work the same way.
 */
export function checkI5(o: Observation): Violation[] {
  const out: Violation[] = [];
  const terminals = new Map<string, { keys: Set<string>; types: string[] }>();
  o.terminals.forEach((t, n) => {
    let e = terminals.get(t.corr);
    if (!e) terminals.set(t.corr, (e = { keys: new Set(), types: [] }));
    const key = t.id ?? `#${n}`;
    if (e.keys.has(key)) return;
    e.keys.add(key);
    e.types.push(t.type);
  });
  const seen = new Set<string>();
  for (const c of o.commands) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const t = terminals.get(c.id);
    const what = `command ${c.id} (${c.action} of instance ${c.instanceId}, project ${c.project})`;
    if (!t)
      out.push({
        invariant: 'I5',
        detail: `${what} has no terminal event (lost, or still in flight)`,
        ids: [c.id, c.instanceId],
      });
    else if (t.types.length > 1)
      out.push({
        invariant: 'I5',
        detail: `${what} has ${t.types.length} terminal events: ${t.types.join(', ')}`,
        ids: [c.id, c.instanceId],
      });
  }
  return out;
}
