/**
 * Placement's query-string forms (placement/util.py: `normalize_resources_qs_param`,
 * `normalize_traits_qs_params`, `normalize_member_of_qs_params`), parsed as Placement parses
 * them, by microversion, into the placement actor's request fields (docs/protocol.md §9), with
 * Placement's words when they are malformed. Pure.
 */
import { isUuidLike } from './json-schema.js';
import { atLeast, type Version } from './microversion.js';

/** A malformed query parameter: Placement answers 400 with `detail`. */
export class QueryError extends Error {}

/** `VCPU:1,MEMORY_MB:512` as `{ VCPU: 1, MEMORY_MB: 512 }`. */
export function resourcesParam(text: string): Record<string, number> {
  const form = '?resources=VCPU:2,MEMORY_MB:1024';
  if (text.trim() === '')
    throw new QueryError(
      `Badly formed resources parameter. Expected resources query string parameter in form: ${form}. ` +
        'Got: empty string.',
    );
  const out: Record<string, number> = {};
  for (const rt of text.split(',')) {
    const parts = rt.split(':');
    if (parts.length !== 2)
      throw new QueryError(
        `Badly formed resources parameter. Expected resources query string parameter in form: ${form}. Got: ${rt}.`,
      );
    const [rc, amount] = parts as [string, string];
    // Python's int(): surrounding blanks and a sign are fine, anything else is not a number.
    if (!/^\s*[+-]?\d+\s*$/.test(amount))
      throw new QueryError(`Requested resource ${rc} expected positive integer amount. Got: ${amount}.`);
    const n = Number(amount.trim());
    if (n < 1) throw new QueryError(`Requested resource ${rc} requires amount >= 1. Got: ${n}.`);
    out[rc] = n;
  }
  return out;
}

/**
 * The values of `required<suffix>` as the actor's trait expressions (`NAME`, `!NAME`,
 * `in:A,B`): forbidden traits from 1.22, `in:` and repeated parameters from 1.39 (before, the
 * last one counts).
 */
export function requiredParams(v: Version, values: readonly string[]): string[] {
  const allowForbidden = atLeast(v, 1, 22);
  const allowAny = atLeast(v, 1, 39);
  const out: string[] = [];
  for (const val of allowAny ? values : values.slice(-1)) {
    if (val.startsWith('in:')) {
      if (!allowAny)
        throw new QueryError(
          "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since " +
            `microversion 1.39. Got: ${val}`,
        );
      const any = [
        ...new Set(
          val
            .slice(3)
            .split(',')
            .map((t) => t.trim()),
        ),
      ];
      if (any.some((t) => t === ''))
        throw new QueryError(
          "Invalid query string parameters: Expected 'required' parameter value of the form: " +
            `in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: ${val}`,
        );
      if (any.some((t) => t.startsWith('!')))
        throw new QueryError(
          "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support " +
            `forbidden traits. Got: ${val}`,
        );
      out.push(any.length === 1 ? any[0]! : `in:${any.join(',')}`);
      continue;
    }
    const all = val.split(',').map((t) => t.trim());
    const forbidden = all.filter((t) => t.startsWith('!')).map((t) => t.replace(/^!+/, ''));
    if ([...all, ...forbidden].some((t) => t === ''))
      throw new QueryError(
        "Invalid query string parameters: Expected 'required' parameter value of the form: " +
          `${allowForbidden ? 'HW_CPU_X86_VMX,!CUSTOM_MAGIC' : 'HW_CPU_X86_VMX,CUSTOM_MAGIC'}. ` +
          `Got an empty trait in: ${val}`,
      );
    if (forbidden.length > 0 && !allowForbidden)
      throw new QueryError(
        "Invalid query string parameters: Expected 'required' parameter value of the form: " +
          `HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: ${val}`,
      );
    out.push(...all.filter((t) => !t.startsWith('!')), ...forbidden.map((t) => `!${t}`));
  }
  return [...new Set(out)];
}

/**
 * The values of `member_of<suffix>` as the actor's `memberOf` (each inner list any-of; one of
 * `!`-prefixed uuids forbids them all): repeated from 1.24, `!` from 1.32.
 */
export function memberOfParams(v: Version, values: readonly string[], suffix = ''): string[][] {
  if (!atLeast(v, 1, 24) && values.length > 1)
    throw new QueryError(`Multiple member_of${suffix} parameters are not supported`);
  const required: string[][] = [];
  const forbidden = new Set<string>();
  for (const value of values) {
    if (value.includes(',') && !(value.startsWith('in:') || value.startsWith('!in:')))
      throw new QueryError(
        "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid " +
          `microversion. Got: ${value}`,
      );
    let req: string[] = [];
    let forb: string[] = [];
    if (value.startsWith('!in:')) forb = value.slice(4).split(',');
    else if (value.startsWith('!')) forb = [value.slice(1)];
    else if (value.startsWith('in:')) req = value.slice(3).split(',');
    else req = [value];
    for (const u of [...req, ...forb])
      if (!isUuidLike(u))
        throw new QueryError(
          `Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: ${u}`,
        );
    if (req.length > 0) required.push([...new Set(req)]);
    if (forb.length > 0) {
      if (!atLeast(v, 1, 32))
        throw new QueryError(`Forbidden member_of${suffix} parameters are not supported in the specified microversion`);
      for (const u of forb) forbidden.add(u);
    }
  }
  return [...required, ...(forbidden.size > 0 ? [[...forbidden].map((u) => `!${u}`)] : [])];
}
