/**
 * The subset of JSON Schema that Placement's request schemas use (placement/schemas/*.py),
 * checked as Python's `jsonschema.validate` does, with its messages: Placement answers a body
 * (or query string) that fails with `str(ValidationError)` — "0 is less than the minimum of 1",
 * "Failed validating 'minimum' in schema['properties']['total']" — and clients and Placement's
 * own tests read those words. Pure.
 */
import { pyRepr } from './py-repr.js';

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean;
  readonly required?: readonly string[];
  readonly minProperties?: number;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly uniqueItems?: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: 'uuid';
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
}

type Index = string | number;

/** One failure, as jsonschema's ValidationError holds it. */
export interface SchemaError {
  readonly message: string;
  /** The keyword that failed: `minimum`, `required`, … */
  readonly validator: string;
  /** Where in the instance (relative to the root). */
  readonly path: readonly Index[];
  /** Where in the schema, ending with the keyword. */
  readonly schemaPath: readonly Index[];
  readonly schema: unknown;
  readonly instance: unknown;
  /** The branches' failures of an `anyOf`. */
  readonly context: readonly SchemaError[];
}

/** oslo's `is_uuid_like`: 32 hex digits once dashes, braces and a `urn:uuid:` prefix are gone. */
export function isUuidLike(s: string): boolean {
  const bare = s
    .toLowerCase()
    .replace(/^urn:/, '')
    .replace(/^uuid:/, '')
    .replace(/[{}-]/g, '');
  return /^[0-9a-f]{32}$/.test(bare);
}

const typeOk = (t: string, x: unknown): boolean => {
  switch (t) {
    case 'object':
      return x !== null && typeof x === 'object' && !Array.isArray(x);
    case 'array':
      return Array.isArray(x);
    case 'string':
      return typeof x === 'string';
    case 'integer':
      return typeof x === 'number' && Number.isInteger(x);
    case 'number':
      return typeof x === 'number';
    case 'boolean':
      return typeof x === 'boolean';
    case 'null':
      return x === null;
    default:
      return false;
  }
};

/** Python's `len(str)`: code points. */
const pyLen = (s: string) => [...s].length;
const pyRe = (p: string) => new RegExp(p, 'u');

/** Every failure of `x` against `s`, in the order jsonschema reports them (the schema's keyword order). */
function errorsOf(x: unknown, s: JsonSchema, path: Index[], schemaPath: Index[]): SchemaError[] {
  const out: SchemaError[] = [];
  const fail = (validator: string, message: string, extra?: Partial<SchemaError>) =>
    out.push({
      message,
      validator,
      path,
      schemaPath: [...schemaPath, validator],
      schema: s,
      instance: x,
      context: [],
      ...extra,
    });
  const isObj = typeOk('object', x);
  for (const key of Object.keys(s) as (keyof JsonSchema)[]) {
    switch (key) {
      case 'type': {
        const types = typeof s.type === 'string' ? [s.type] : s.type!;
        if (!types.some((t) => typeOk(t, x)))
          fail('type', `${pyRepr(x)} is not of type ${types.map((t) => pyRepr(t)).join(', ')}`);
        break;
      }
      case 'properties':
        if (isObj)
          for (const [k, sub] of Object.entries(s.properties!))
            if (Object.hasOwn(x as object, k))
              out.push(...errorsOf((x as Record<string, unknown>)[k], sub, [...path, k], [...schemaPath, key, k]));
        break;
      case 'patternProperties':
        if (isObj)
          for (const [p, sub] of Object.entries(s.patternProperties!))
            for (const [k, v] of Object.entries(x as object))
              if (pyRe(p).test(k)) out.push(...errorsOf(v, sub, [...path, k], [...schemaPath, key, p]));
        break;
      case 'additionalProperties': {
        if (!isObj || s.additionalProperties !== false) break;
        const patterns = Object.keys(s.patternProperties ?? {});
        const extras = Object.keys(x as object).filter(
          (k) => !Object.hasOwn(s.properties ?? {}, k) && !patterns.some((p) => pyRe(p).test(k)),
        );
        if (extras.length === 0) break;
        if (s.patternProperties) {
          const verb = extras.length === 1 ? 'does' : 'do';
          const names = [...extras].sort().map((e) => pyRepr(e));
          const pats = [...patterns].sort().map((p) => pyRepr(p));
          fail(key, `${names.join(', ')} ${verb} not match any of the regexes: ${pats.join(', ')}`);
        } else {
          const was = extras.length === 1 ? 'was' : 'were';
          fail(
            key,
            `Additional properties are not allowed (${extras.map((e) => pyRepr(e)).join(', ')} ${was} unexpected)`,
          );
        }
        break;
      }
      case 'required':
        if (isObj)
          for (const r of s.required!)
            if (!Object.hasOwn(x as object, r)) fail(key, `${pyRepr(r)} is a required property`);
        break;
      case 'minProperties':
        if (isObj && Object.keys(x as object).length < s.minProperties!)
          fail(key, `${pyRepr(x)} does not have enough properties`);
        break;
      case 'items':
        if (Array.isArray(x))
          x.forEach((item, i) => out.push(...errorsOf(item, s.items!, [...path, i], [...schemaPath, key])));
        break;
      case 'minItems':
        if (Array.isArray(x) && x.length < s.minItems!) fail(key, `${pyRepr(x)} is too short`);
        break;
      case 'uniqueItems':
        if (Array.isArray(x) && s.uniqueItems && new Set(x.map((i) => JSON.stringify(i))).size !== x.length)
          fail(key, `${pyRepr(x)} has non-unique elements`);
        break;
      case 'minimum':
        if (typeof x === 'number' && x < s.minimum!)
          fail(key, `${pyRepr(x)} is less than the minimum of ${pyRepr(s.minimum)}`);
        break;
      case 'maximum':
        if (typeof x === 'number' && x > s.maximum!)
          fail(key, `${pyRepr(x)} is greater than the maximum of ${pyRepr(s.maximum)}`);
        break;
      case 'minLength':
        if (typeof x === 'string' && pyLen(x) < s.minLength!) fail(key, `${pyRepr(x)} is too short`);
        break;
      case 'maxLength':
        if (typeof x === 'string' && pyLen(x) > s.maxLength!) fail(key, `${pyRepr(x)} is too long`);
        break;
      case 'pattern':
        if (typeof x === 'string' && !pyRe(s.pattern!).test(x))
          fail(key, `${pyRepr(x)} does not match ${pyRepr(s.pattern)}`);
        break;
      case 'format':
        if (typeof x === 'string' && s.format === 'uuid' && !isUuidLike(x)) fail(key, `${pyRepr(x)} is not a 'uuid'`);
        break;
      case 'enum':
        if (!s.enum!.some((e) => JSON.stringify(e) === JSON.stringify(x)))
          fail(key, `${pyRepr(x)} is not one of ${pyRepr(s.enum)}`);
        break;
      case 'anyOf': {
        const context: SchemaError[] = [];
        let matched = false;
        s.anyOf!.forEach((sub, i) => {
          const errs = errorsOf(x, sub, path, [...schemaPath, key, i]);
          if (errs.length === 0) matched = true;
          context.push(...errs);
        });
        if (!matched) fail(key, `${pyRepr(x)} is not valid under any of the given schemas`, { context });
        break;
      }
    }
  }
  return out;
}

/** jsonschema's `relevance`: errors nearer the root win, `anyOf` loses to a concrete keyword. */
const relevance = (e: SchemaError): [number, number] => [-e.path.length, e.validator === 'anyOf' ? 0 : 1];
const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

/** jsonschema's `best_match`: the error `validate` raises. */
function bestMatch(errors: readonly SchemaError[]): SchemaError | undefined {
  let best: SchemaError | undefined;
  for (const e of errors) if (!best || cmp(relevance(e), relevance(best)) > 0) best = e;
  while (best && best.context.length > 0) {
    const sorted = [...best.context].sort((a, b) => cmp(relevance(a), relevance(b)));
    if (sorted.length > 1 && cmp(relevance(sorted[0]!), relevance(sorted[1]!)) === 0) return best;
    best = sorted[0];
  }
  return best;
}

const asIndex = (container: string, indices: readonly Index[]) =>
  container + indices.map((i) => `[${pyRepr(i)}]`).join('');

/** `str(ValidationError)`: the message, then which keyword failed where, and on what. */
export function formatSchemaError(e: SchemaError): string {
  return (
    `${e.message}\n\n` +
    `Failed validating ${pyRepr(e.validator)} in ${asIndex('schema', e.schemaPath.slice(0, -1))}:\n` +
    `    ${pyRepr(e.schema)}\n\n` +
    `On ${asIndex('instance', e.path)}:\n` +
    `    ${pyRepr(e.instance)}`
  );
}

/** Checks `x` against `schema`: undefined when it validates, else jsonschema's text for the failure it reports. */
export function validateJson(x: unknown, schema: JsonSchema): string | undefined {
  const best = bestMatch(errorsOf(x, schema, [], []));
  return best ? formatSchemaError(best) : undefined;
}
