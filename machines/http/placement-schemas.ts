/**
 * Placement's request schemas (placement/schemas/*.py of Placement 8.0), by microversion: the
 * HTTP shape of each body and query string, checked before the request is translated for the
 * placement actor, so that a refusal names the field as Placement's does (snake_case, its
 * schema path). The actor checks its own wire schema again; rules that need state stay there.
 * Pure.
 */
import type { JsonSchema } from './json-schema.js';
import { atLeast, type Version } from './microversion.js';

const MAX_INT = 2147483647;
/** Placement's SQL_SP_FLOAT_MAX: the largest allocation ratio its database holds. */
const SQL_SP_FLOAT_MAX = 3.40282e38;
const UUID_PATTERN = '^[0-9a-fA-F-]{36}$';
const RC_PATTERN = '^[A-Z0-9_]+$';
const CUSTOM_PATTERN = '^CUSTOM_[A-Z0-9_]+$';
const CONSUMER_TYPE_GET_PATTERN = '^[A-Z0-9_]+$|^all|^unknown$';

const uuid: JsonSchema = { type: 'string', format: 'uuid' };
const externalId: JsonSchema = { type: 'string', minLength: 1, maxLength: 255 };
const intTo = (minimum: number): JsonSchema => ({ type: 'integer', maximum: MAX_INT, minimum });

// ---------------------------------------------------------------------------------------------
// Resource providers

export function providerPostSchema(v: Version): JsonSchema {
  return {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 200 },
      uuid,
      ...(atLeast(v, 1, 14) ? { parent_provider_uuid: { anyOf: [uuid, { type: 'null' }] } } : {}),
    },
    required: ['name'],
    additionalProperties: false,
  };
}

export function providerPutSchema(v: Version): JsonSchema {
  return {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 200 },
      ...(atLeast(v, 1, 14) ? { parent_provider_uuid: { anyOf: [uuid, { type: 'null' }] } } : {}),
    },
    required: ['name'],
    additionalProperties: false,
  };
}

export function providerListQuery(v: Version): JsonSchema {
  return {
    type: 'object',
    properties: {
      name: { type: 'string' },
      uuid,
      ...(atLeast(v, 1, 3) ? { member_of: { type: 'string' } } : {}),
      ...(atLeast(v, 1, 4) ? { resources: { type: 'string' } } : {}),
      ...(atLeast(v, 1, 14) ? { in_tree: uuid } : {}),
      ...(atLeast(v, 1, 18) ? { required: { type: 'string' } } : {}),
    },
    additionalProperties: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Inventories

const inventoryProperties: Record<string, JsonSchema> = {
  resource_provider_generation: { type: 'integer' },
  total: intTo(1),
  reserved: intTo(0),
  min_unit: intTo(1),
  max_unit: intTo(1),
  step_size: intTo(1),
  allocation_ratio: { type: 'number', maximum: SQL_SP_FLOAT_MAX },
};

/** `PUT …/inventories/{rc}`. */
export const INVENTORY_PUT: JsonSchema = {
  type: 'object',
  properties: inventoryProperties,
  required: ['total', 'resource_provider_generation'],
  additionalProperties: false,
};

/** `POST …/inventories`. */
export const INVENTORY_POST: JsonSchema = {
  type: 'object',
  properties: { ...inventoryProperties, resource_class: { type: 'string', pattern: RC_PATTERN } },
  required: ['total', 'resource_class'],
  additionalProperties: false,
};

const INVENTORY_RECORD: JsonSchema = {
  type: 'object',
  properties: inventoryProperties,
  required: ['total'],
  additionalProperties: false,
};

/** `PUT …/inventories`. */
export const INVENTORIES_PUT: JsonSchema = {
  type: 'object',
  properties: {
    resource_provider_generation: { type: 'integer' },
    inventories: { type: 'object', patternProperties: { [RC_PATTERN]: INVENTORY_RECORD } },
  },
  required: ['resource_provider_generation', 'inventories'],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// Aggregates, traits, resource classes

const aggregateList: JsonSchema = { type: 'array', items: uuid, uniqueItems: true };

export function aggregatesPutSchema(v: Version): JsonSchema {
  if (!atLeast(v, 1, 19)) return aggregateList;
  return {
    type: 'object',
    properties: { aggregates: aggregateList, resource_provider_generation: { type: 'integer' } },
    required: ['aggregates', 'resource_provider_generation'],
    additionalProperties: false,
  };
}

export const TRAIT_NAME: JsonSchema = { type: 'string', minLength: 1, maxLength: 255 };
export const CUSTOM_TRAIT_NAME: JsonSchema = { ...TRAIT_NAME, pattern: CUSTOM_PATTERN };

/** `PUT /resource_providers/{u}/traits`. */
export const PROVIDER_TRAITS_PUT: JsonSchema = {
  type: 'object',
  properties: {
    traits: { type: 'array', items: TRAIT_NAME },
    resource_provider_generation: { type: 'integer' },
  },
  required: ['traits', 'resource_provider_generation'],
  additionalProperties: false,
};

export const TRAITS_QUERY: JsonSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, associated: { type: 'string' } },
  additionalProperties: false,
};

/** `POST /resource_classes`, and the rename of `PUT /resource_classes/{name}` (1.2–1.6). */
export const RESOURCE_CLASS_BODY: JsonSchema = {
  type: 'object',
  properties: { name: { type: 'string', pattern: CUSTOM_PATTERN, maxLength: 255 } },
  required: ['name'],
  additionalProperties: false,
};

// ---------------------------------------------------------------------------------------------
// Allocations, usages, reshaper

const resourceAmounts: JsonSchema = {
  type: 'object',
  minProperties: 1,
  patternProperties: { [RC_PATTERN]: { type: 'integer', minimum: 1 } },
  additionalProperties: false,
};

/** The list form of 1.0–1.11 (`[{resource_provider: {uuid}, resources}]`), project and user from 1.8. */
function allocationListSchema(v: Version): JsonSchema {
  const withOwner = atLeast(v, 1, 8);
  return {
    type: 'object',
    properties: {
      allocations: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          properties: {
            resource_provider: {
              type: 'object',
              properties: { uuid },
              additionalProperties: false,
              required: ['uuid'],
            },
            resources: resourceAmounts,
          },
          required: ['resource_provider', 'resources'],
          additionalProperties: false,
        },
      },
      ...(withOwner ? { project_id: externalId, user_id: externalId } : {}),
    },
    required: ['allocations', ...(withOwner ? ['project_id', 'user_id'] : [])],
    additionalProperties: false,
  };
}

/**
 * One consumer's allocations in the map form (1.12+) at `v`; `minProviders` is 1 for the PUT
 * of 1.12–1.27 (an empty map is refused there) and 0 where `{}` empties the consumer.
 */
function consumerSchema(v: Version, minProviders: number): JsonSchema {
  return {
    type: 'object',
    properties: {
      allocations: {
        type: 'object',
        minProperties: minProviders,
        patternProperties: {
          [UUID_PATTERN]: {
            type: 'object',
            properties: { generation: { type: 'integer' }, resources: resourceAmounts },
            required: ['resources'],
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
      project_id: externalId,
      user_id: externalId,
      ...(atLeast(v, 1, 28) ? { consumer_generation: { type: ['integer', 'null'] } } : {}),
      ...(atLeast(v, 1, 34)
        ? {
            mappings: {
              type: 'object',
              minProperties: 1,
              patternProperties: {
                '[a-zA-Z0-9_-]{1,64}': { type: 'array', minItems: 1, items: uuid },
              },
            },
          }
        : {}),
      ...(atLeast(v, 1, 38)
        ? { consumer_type: { type: 'string', pattern: RC_PATTERN, minLength: 1, maxLength: 255 } }
        : {}),
    },
    additionalProperties: false,
    required: [
      'allocations',
      'project_id',
      'user_id',
      ...(atLeast(v, 1, 28) ? ['consumer_generation'] : []),
      ...(atLeast(v, 1, 38) ? ['consumer_type'] : []),
    ],
  };
}

/** `PUT /allocations/{consumer}`. */
export function allocationPutSchema(v: Version): JsonSchema {
  if (!atLeast(v, 1, 12)) return allocationListSchema(v);
  return consumerSchema(v, atLeast(v, 1, 28) ? 0 : 1);
}

/** `POST /allocations` (1.13+): consumers by uuid, each as a PUT whose `{}` empties it. */
export function allocationPostSchema(v: Version, minConsumers = 1): JsonSchema {
  return {
    type: 'object',
    minProperties: minConsumers,
    additionalProperties: false,
    patternProperties: { [UUID_PATTERN]: consumerSchema(v, 0) },
  };
}

/** `POST /reshaper` (1.30+). */
export function reshaperSchema(v: Version): JsonSchema {
  // The reshaper's allocations are 1.28's (or 1.34's, 1.38's) POST form, possibly empty.
  const allocationsAt = atLeast(v, 1, 28) ? v : { major: 1, minor: 28 };
  return {
    type: 'object',
    properties: {
      inventories: {
        type: 'object',
        patternProperties: { [UUID_PATTERN]: INVENTORIES_PUT },
        minProperties: 1,
        additionalProperties: false,
      },
      allocations: allocationPostSchema(allocationsAt, 0),
    },
    required: ['inventories', 'allocations'],
    additionalProperties: false,
  };
}

export function usagesQuery(v: Version): JsonSchema {
  return {
    type: 'object',
    properties: {
      project_id: externalId,
      user_id: externalId,
      ...(atLeast(v, 1, 38)
        ? { consumer_type: { type: 'string', pattern: CONSUMER_TYPE_GET_PATTERN, minLength: 1, maxLength: 255 } }
        : {}),
    },
    required: ['project_id'],
    additionalProperties: false,
  };
}
