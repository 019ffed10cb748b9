/**
 * Placement's request schemas and Python jsonschema's words for their failures
 * (machines/http/json-schema.ts, placement-schemas.ts, placement-query.ts): the texts
 * upstream's functional tests (and clients) look for in a 400.
 */
import test from 'ava';
import {
  memberOfParams,
  placementSchemas as schemas,
  pyRepr,
  QueryError,
  requiredParams,
  resourcesParam,
  validateJson,
} from '../../../machines/http/index.js';

const v = (minor: number) => ({ major: 1, minor });

test('python repr of JSON values: quotes, None/True/False, lists and dicts', (t) => {
  t.is(pyRepr('total'), "'total'");
  t.is(pyRepr("it's"), `"it's"`);
  t.is(pyRepr('a\nb\\'), "'a\\nb\\\\'");
  t.is(pyRepr(null), 'None');
  t.is(pyRepr([true, false, 1, 3.40282e39]), '[True, False, 1, 3.40282e+39]');
  t.is(pyRepr({ a: ['x'] }), "{'a': ['x']}");
});

test('jsonschema messages: required, minimum, maximum, additional properties, format, type, lengths', (t) => {
  const inv = (body: Record<string, unknown>) => validateJson(body, schemas.INVENTORY_POST) ?? '';
  t.regex(
    inv({ resource_class: 'DISK_GB' }),
    /^'total' is a required property\n\nFailed validating 'required' in schema:/,
  );
  const zero = inv({ resource_class: 'DISK_GB', total: 2048, min_unit: 0 });
  t.true(zero.startsWith('0 is less than the minimum of 1\n'));
  t.true(zero.includes("Failed validating 'minimum' in schema['properties']['min_unit']:"));
  t.true(zero.includes("On instance['min_unit']:\n    0"));
  t.true(inv({ resource_class: 'DISK_GB', total: 2147483648 }).includes("Failed validating 'maximum'"));
  t.true(inv({ resource_class: 'DISK_GB', total: 1, allocation_ratio: 3.40282e39 }).includes('3.40282e+39 is greater'));
  t.is(validateJson({ name: 'x' }, schemas.providerPostSchema(v(1))), undefined);
  t.true(
    (validateJson({ name: 'x', color: 'red' }, schemas.providerPostSchema(v(1))) ?? '').startsWith(
      "Additional properties are not allowed ('color' was unexpected)",
    ),
  );
  t.true(
    (validateJson({ name: 'x', uuid: 'no' }, schemas.providerPostSchema(v(1))) ?? '').startsWith(
      "'no' is not a 'uuid'",
    ),
  );
  // An anyOf with no better branch reports itself.
  t.true(
    (validateJson({ name: 'x', parent_provider_uuid: 'no' }, schemas.providerPostSchema(v(14))) ?? '').startsWith(
      "'no' is not valid under any of the given schemas",
    ),
  );
  t.true((validateJson({ name: 'x'.repeat(201) }, schemas.providerPutSchema(v(1))) ?? '').includes("'maxLength'"));
  const traits = validateJson({ traits: 'x', resource_provider_generation: 'g' }, schemas.PROVIDER_TRAITS_PUT) ?? '';
  t.regex(traits, /^'x' is not of type 'array'|^'g' is not of type 'integer'/);
  // Keys matched by no pattern name the patterns.
  const alloc = validateJson(
    { allocations: { not_a_uuid: { resources: { VCPU: 1 } } }, project_id: 'p', user_id: 'u' },
    schemas.allocationPutSchema(v(12)),
  );
  t.true((alloc ?? '').startsWith("'not_a_uuid' does not match any of the regexes: '^[0-9a-fA-F-]{36}$'"));
  t.true(
    (
      validateJson({ allocations: {}, project_id: 'p', user_id: 'u' }, schemas.allocationPutSchema(v(12))) ?? ''
    ).includes('does not have enough properties'),
  );
  t.is(
    validateJson(
      { allocations: {}, project_id: 'p', user_id: 'u', consumer_generation: null },
      schemas.allocationPutSchema(v(28)),
    ),
    undefined,
  );
  t.true(
    (
      validateJson({ aggregates: ['a', 'a'], resource_provider_generation: 1 }, schemas.aggregatesPutSchema(v(19))) ??
      ''
    ).includes('has non-unique elements'),
  );
  t.true((validateJson({ project_id: '' }, schemas.usagesQuery(v(9))) ?? '').includes("Failed validating 'minLength'"));
});

test('query forms: resources, required and member_of parsed as Placement parses them, by microversion', (t) => {
  t.deepEqual(resourcesParam('VCPU:1,MEMORY_MB:512'), { VCPU: 1, MEMORY_MB: 512 });
  t.throws(() => resourcesParam('VCPU'), { instanceOf: QueryError, message: /Badly formed resources parameter/ });
  t.throws(() => resourcesParam('VCPU:0'), { message: /requires amount >= 1/ });
  t.deepEqual(requiredParams(v(22), ['A,!B']), ['A', '!B']);
  t.throws(() => requiredParams(v(21), ['!B']), {
    message:
      "Invalid query string parameters: Expected 'required' parameter value of the form: " +
      'HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: !B',
  });
  t.throws(() => requiredParams(v(18), ['']), { message: /form: HW_CPU_X86_VMX,CUSTOM_MAGIC\. Got an empty trait/ });
  t.deepEqual(requiredParams(v(38), ['A', 'B']), ['B'], 'the last one before 1.39');
  t.deepEqual(requiredParams(v(39), ['in:A,B', 'C']), ['in:A,B', 'C']);
  const agg = '282d469e-29e2-4a8a-8f2e-31b3202b696a';
  t.deepEqual(memberOfParams(v(32), [`!in:${agg}`]), [[`!${agg}`]]);
  t.throws(() => memberOfParams(v(31), [`!${agg}`]), {
    message: 'Forbidden member_of parameters are not supported in the specified microversion',
  });
  t.throws(() => memberOfParams(v(32), ['not a uuid']), {
    message:
      "Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: not a uuid",
  });
  t.throws(() => memberOfParams(v(23), [agg, agg]), { message: 'Multiple member_of parameters are not supported' });
});
