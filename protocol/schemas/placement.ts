/**
 * Wire schemas of the placement service (`nv.placement.<op>`, envelope type `placement.<op>`).
 *
 * Bodies mirror OpenStack Placement 1.39 JSON with camelCase names (docs/protocol.md §9). The
 * schemas do what Placement's JSON schemas do (shape, ranges, name patterns, no unknown keys):
 * a body that fails here is a 400 `placement.undefined_code` "JSON does not validate". Checks
 * that need state (unknown class, generation, capacity) live in machines/placement.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Placement's MAX_INT: the upper bound of every inventory integer. */
export const PLACEMENT_MAX_INT = 2147483647;

/** Uuid-like: dashed or dashless, any case (Placement stores the canonical lowercase form). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';
/** Resource class or trait as accepted on the wire; existence is checked by the core. */
export const CLASS_PATTERN = '^[A-Z0-9_]+$';
export const CUSTOM_PATTERN = '^CUSTOM_[A-Z0-9_]+$';
/** Granular group suffix (1.33+ form). */
export const SUFFIX_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const MAX_LIST = 1000;
const MAX_MAP = 1000;
const MAX_CLASSES = 256;

const obj = <T extends Record<string, TSchema>>(props: T) => Type.Object(props, { additionalProperties: false });

export const Uuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
const NullableUuid = Type.Union([Uuid, Type.Null()]);
const ProviderName = Type.String({ minLength: 1, maxLength: 200 });
const ExternalId = Type.String({ minLength: 1, maxLength: 255 });
const ClassName = Type.String({ pattern: CLASS_PATTERN, minLength: 1, maxLength: 255 });
const CustomName = Type.String({ pattern: CUSTOM_PATTERN, maxLength: 255 });
const TraitName = ClassName;
const Generation = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const ConsumerType = Type.String({ pattern: CLASS_PATTERN, minLength: 1, maxLength: 255 });
const Amount = Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT });
const Count = Type.Integer({ minimum: 0 });

/** `{ <RC>: n }` with n ≥ 1; at least one class. */
export const ResourceAmounts = Type.Record(Type.String({ pattern: CLASS_PATTERN }), Amount, {
  additionalProperties: false,
  minProperties: 1,
  maxProperties: MAX_CLASSES,
});
const UsageMap = Type.Record(Type.String({ pattern: CLASS_PATTERN }), Count, { additionalProperties: false });

const InventoryFields = {
  total: Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT }),
  reserved: Type.Optional(Type.Integer({ minimum: 0, maximum: PLACEMENT_MAX_INT })),
  minUnit: Type.Optional(Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT })),
  maxUnit: Type.Optional(Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT })),
  stepSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT })),
  // Placement sets no minimum: a negative ratio passes the schema and fails the capacity check.
  allocationRatio: Type.Optional(Type.Number({ maximum: 3.40282e38 })),
};
/** false: every capacity must be above 0, as before Placement 1.26 (default true: 0 is allowed). */
const ZeroCapacity = Type.Optional(Type.Boolean());
/** One inventory as written (defaults filled in by the core). */
export const InventoryInput = obj(InventoryFields);
export type InventoryInput = Static<typeof InventoryInput>;
/** One inventory as read back: every field present. */
export const InventoryRecord = obj({
  total: Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT }),
  reserved: Type.Integer({ minimum: 0, maximum: PLACEMENT_MAX_INT }),
  minUnit: Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT }),
  maxUnit: Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT }),
  stepSize: Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT }),
  allocationRatio: Type.Number({ maximum: 3.40282e38 }),
});
export type InventoryRecord = Static<typeof InventoryRecord>;
const InventoryInputs = Type.Record(Type.String({ pattern: CLASS_PATTERN }), InventoryInput, {
  additionalProperties: false,
  maxProperties: MAX_CLASSES,
});
const InventoryRecords = Type.Record(Type.String({ pattern: CLASS_PATTERN }), InventoryRecord, {
  additionalProperties: false,
});

/** A provider as every reply shows it. */
export const ProviderBody = obj({
  uuid: Uuid,
  name: ProviderName,
  generation: Generation,
  parentProviderUuid: NullableUuid,
  rootProviderUuid: Uuid,
});
export type ProviderBody = Static<typeof ProviderBody>;
const ProviderReply = obj({ provider: ProviderBody });

/** `TRAIT`, `!TRAIT` (forbidden) or `in:A,B` (any of). */
const TraitExpr = Type.String({
  pattern: '^(!?[A-Z0-9_]+|in:[A-Z0-9_]+(,[A-Z0-9_]+)*)$',
  minLength: 1,
  maxLength: 4096,
});
const TraitExprs = Type.Array(TraitExpr, { maxItems: MAX_LIST });
/** `TRAIT` or `!TRAIT` (root_required has no any-of form). */
const RootTraitExprs = Type.Array(Type.String({ pattern: '^!?[A-Z0-9_]+$', maxLength: 256 }), { maxItems: MAX_LIST });
/**
 * member_of: the outer list is ANDed, each inner list is any-of. An inner list whose members
 * all start with `!` forbids those aggregates (Placement's `!U` / `!in:U1,U2`).
 */
const MemberOf = Type.Array(
  Type.Array(Type.String({ pattern: '^!?' + UUID_PATTERN.slice(1), maxLength: 37 }), {
    minItems: 1,
    maxItems: MAX_LIST,
  }),
  { maxItems: MAX_LIST },
);

const AllocationResources = obj({
  resources: ResourceAmounts,
  // Accepted and ignored, as in Placement (≥1.12): clients never send provider generations.
  generation: Type.Optional(Generation),
});
/** `{ <providerUuid>: { resources } }`; `{}` empties the consumer. */
export const AllocationsInput = Type.Record(Type.String({ pattern: UUID_PATTERN }), AllocationResources, {
  additionalProperties: false,
  maxProperties: MAX_MAP,
});
/** Accepted and dropped (Q5), as in Placement ≥1.34. */
const Mappings = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9_-]{0,64}$' }),
  Type.Array(Uuid, { maxItems: MAX_LIST }),
  {
    additionalProperties: false,
    maxProperties: MAX_MAP,
  },
);
const ConsumerWriteFields = {
  consumerGeneration: Type.Union([Generation, Type.Null()]),
  project: ExternalId,
  user: ExternalId,
  /**
   * Required, as in Placement 1.38+. `null` is novactor's, for a write of an older microversion
   * over HTTP (docs/http-api.md): an existing consumer keeps its type, a new one has none (reads
   * say `unknown`).
   */
  consumerType: Type.Union([ConsumerType, Type.Null()]),
  allocations: AllocationsInput,
  mappings: Type.Optional(Mappings),
};
/** One consumer's part of a multi-consumer write (allocations.post and reshape). */
export const ConsumerWrite = obj(ConsumerWriteFields);
export type ConsumerWrite = Static<typeof ConsumerWrite>;
const ConsumerWrites = Type.Record(Type.String({ pattern: UUID_PATTERN }), ConsumerWrite, {
  additionalProperties: false,
  maxProperties: MAX_MAP,
});

const Empty = obj({});
const ProviderRef = obj({ provider: Uuid });
const GenAnd = <T extends Record<string, TSchema>>(props: T) =>
  obj({ resourceProviderGeneration: Generation, ...props });

const CandidateGroup = obj({
  resources: Type.Optional(ResourceAmounts),
  required: Type.Optional(TraitExprs),
  memberOf: Type.Optional(MemberOf),
  inTree: Type.Optional(Uuid),
});
export type CandidateGroup = Static<typeof CandidateGroup>;

const SingleInventoryReply = obj({
  resourceProviderGeneration: Generation,
  resourceClass: ClassName,
  ...InventoryRecord.properties,
});
const AggregateList = Type.Array(Uuid, { uniqueItems: true, maxItems: MAX_LIST });
const TraitList = Type.Array(TraitName, { uniqueItems: true, maxItems: MAX_LIST });

// ---------------------------------------------------------------------------------------------
// Operations

/** Every placement operation: request and success-reply body schemas, keyed by op name. */
export const PlacementOps = {
  /** Create a provider (`POST /resource_providers`); the actor fills in a missing uuid. */
  'providers.create': {
    request: obj({ uuid: Type.Optional(Uuid), name: ProviderName, parentProviderUuid: Type.Optional(NullableUuid) }),
    reply: ProviderReply,
  },
  /** Read one provider (`GET /resource_providers/{u}`). */
  'providers.get': { request: obj({ uuid: Uuid }), reply: ProviderReply },
  /** List providers, filters ANDed (`GET /resource_providers`). */
  'providers.list': {
    request: obj({
      name: Type.Optional(ProviderName),
      uuid: Type.Optional(Uuid),
      memberOf: Type.Optional(MemberOf),
      resources: Type.Optional(ResourceAmounts),
      inTree: Type.Optional(Uuid),
      required: Type.Optional(TraitExprs),
      /**
       * novactor's paging (Placement lists everything at once): at most `limit` providers, in
       * uuid order, those after the uuid `after`; the reply's `next` is the `after` of the next
       * page, absent on the last. A listing too large for one message needs it (§8.1, 413).
       */
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
      after: Type.Optional(Uuid),
    }),
    reply: obj({ providers: Type.Array(ProviderBody), next: Type.Optional(Uuid) }),
  },
  /** Rename and/or re-parent (parent key absent: unchanged; null: make it a root) (`PUT /resource_providers/{u}`). */
  'providers.update': {
    request: obj({
      uuid: Uuid,
      name: ProviderName,
      parentProviderUuid: Type.Optional(NullableUuid),
      /** false: a provider's parent may be set but not changed or removed (Placement before 1.37). */
      reparent: Type.Optional(Type.Boolean()),
    }),
    reply: ProviderReply,
  },
  /** Delete a provider with its inventories, traits and aggregate links (`DELETE /resource_providers/{u}`). */
  'providers.delete': { request: obj({ uuid: Uuid }), reply: Empty },

  /** A provider's inventories (`GET …/inventories`). */
  'inventories.get': { request: ProviderRef, reply: GenAnd({ inventories: InventoryRecords }) },
  /** Replace all inventories (`PUT …/inventories`). */
  'inventories.set': {
    request: obj({
      provider: Uuid,
      resourceProviderGeneration: Generation,
      inventories: InventoryInputs,
      zeroCapacity: ZeroCapacity,
    }),
    reply: GenAnd({ inventories: InventoryRecords }),
  },
  /** One class's inventory (`GET …/inventories/{rc}`). */
  'inventories.getOne': { request: obj({ provider: Uuid, resourceClass: ClassName }), reply: SingleInventoryReply },
  /** Update one existing class (`PUT …/inventories/{rc}`). */
  'inventories.update': {
    request: obj({
      provider: Uuid,
      resourceClass: ClassName,
      resourceProviderGeneration: Generation,
      ...InventoryFields,
      zeroCapacity: ZeroCapacity,
    }),
    reply: SingleInventoryReply,
  },
  /** Add one new class, no generation needed (`POST …/inventories`). */
  'inventories.add': {
    request: obj({ provider: Uuid, resourceClass: ClassName, ...InventoryFields, zeroCapacity: ZeroCapacity }),
    reply: SingleInventoryReply,
  },
  /** Delete one class (`DELETE …/inventories/{rc}`). */
  'inventories.delete': { request: obj({ provider: Uuid, resourceClass: ClassName }), reply: Empty },
  /** Delete every class (`DELETE …/inventories`). */
  'inventories.deleteAll': { request: ProviderRef, reply: Empty },

  /** A provider's traits (`GET …/traits`). */
  'traits.get': { request: ProviderRef, reply: GenAnd({ traits: TraitList }) },
  /** Replace a provider's traits (`PUT …/traits`). */
  'traits.set': {
    request: obj({ provider: Uuid, resourceProviderGeneration: Generation, traits: TraitList }),
    reply: GenAnd({ traits: TraitList }),
  },
  /** Clear a provider's traits (`DELETE …/traits`). */
  'traits.delete': { request: ProviderRef, reply: Empty },
  /**
   * List global traits; `prefix` = Placement's `name=startswith:`, `names` = `name=in:`, `associated` filters on use.
   */
  'traits.list': {
    request: obj({
      prefix: Type.Optional(Type.String({ pattern: '^[A-Z0-9_]*$', maxLength: 255 })),
      names: Type.Optional(Type.Array(TraitName, { maxItems: MAX_LIST })),
      associated: Type.Optional(Type.Boolean()),
    }),
    reply: obj({ traits: Type.Array(TraitName) }),
  },
  /** Whether a global trait exists (`GET /traits/{name}`; 404 when not). */
  'traits.show': { request: obj({ name: TraitName }), reply: obj({ name: TraitName }) },
  /** Create a custom trait; `created` false when it existed (`PUT /traits/{name}`, 201/204). */
  'traits.create': { request: obj({ name: CustomName }), reply: obj({ created: Type.Boolean() }) },
  /** Delete a custom trait (`DELETE /traits/{name}`). */
  'traits.remove': { request: obj({ name: TraitName }), reply: Empty },

  /** List resource classes, standard then custom (`GET /resource_classes`). */
  'resourceClasses.list': { request: Empty, reply: obj({ resourceClasses: Type.Array(obj({ name: ClassName })) }) },
  /** One resource class (`GET /resource_classes/{name}`). */
  'resourceClasses.get': { request: obj({ name: ClassName }), reply: obj({ name: ClassName }) },
  /** Create a custom class, 409 when it exists (`POST /resource_classes`). */
  'resourceClasses.create': { request: obj({ name: CustomName }), reply: obj({ name: ClassName }) },
  /** Create a custom class if missing; `created` false when it existed (`PUT /resource_classes/{name}`, 201/204). */
  'resourceClasses.ensure': { request: obj({ name: CustomName }), reply: obj({ created: Type.Boolean() }) },
  /**
   * Rename a custom class no inventory uses (`PUT /resource_classes/{name}` of microversions
   * 1.2–1.6); 400 for a standard class, 409 when the new name exists or an inventory uses it.
   */
  'resourceClasses.rename': { request: obj({ name: ClassName, newName: CustomName }), reply: obj({ name: ClassName }) },
  /** Delete a custom class no inventory uses (`DELETE /resource_classes/{name}`). */
  'resourceClasses.delete': { request: obj({ name: ClassName }), reply: Empty },

  /** A provider's aggregates (`GET …/aggregates`). */
  'aggregates.get': { request: ProviderRef, reply: GenAnd({ aggregates: AggregateList }) },
  /** Replace a provider's aggregates; always bumps the generation (`PUT …/aggregates`, ≥1.19 form). */
  'aggregates.set': {
    request: obj({ provider: Uuid, resourceProviderGeneration: Generation, aggregates: AggregateList }),
    reply: GenAnd({ aggregates: AggregateList }),
  },

  /** One consumer's allocations; an unknown consumer reads `{ allocations: {} }` (`GET /allocations/{c}`). */
  'allocations.get': {
    request: obj({ consumer: Uuid }),
    reply: obj({
      allocations: Type.Record(
        Type.String({ pattern: UUID_PATTERN }),
        obj({ generation: Generation, resources: ResourceAmounts }),
        { additionalProperties: false },
      ),
      consumerGeneration: Type.Optional(Generation),
      project: Type.Optional(ExternalId),
      user: Type.Optional(ExternalId),
      consumerType: Type.Optional(Type.String({ pattern: '^([A-Z0-9_]+|unknown)$', maxLength: 255 })),
    }),
  },
  /** Replace one consumer's allocations; `{}` deletes the consumer (`PUT /allocations/{c}`). */
  'allocations.put': { request: obj({ consumer: Uuid, ...ConsumerWriteFields }), reply: Empty },
  /** Atomic write over several consumers (`POST /allocations`). */
  'allocations.post': {
    request: obj({
      consumers: Type.Record(Type.String({ pattern: UUID_PATTERN }), ConsumerWrite, {
        additionalProperties: false,
        minProperties: 1,
        maxProperties: MAX_MAP,
      }),
    }),
    reply: Empty,
  },
  /** Remove a consumer's allocations, no generation check, no provider bump (`DELETE /allocations/{c}`). */
  'allocations.delete': { request: obj({ consumer: Uuid }), reply: Empty },
  /** Every consumer's allocations on one provider (`GET …/allocations`). */
  'allocations.byProvider': {
    request: ProviderRef,
    reply: GenAnd({
      allocations: Type.Record(
        Type.String({ pattern: UUID_PATTERN }),
        obj({ resources: ResourceAmounts, consumerGeneration: Generation }),
        { additionalProperties: false },
      ),
    }),
  },

  /** A provider's usage per inventory class, 0 when unused (`GET …/usages`). */
  'usages.get': { request: ProviderRef, reply: GenAnd({ usages: UsageMap }) },
  /**
   * Usage of a project (and user), grouped by consumer type with `consumerCount`
   * (`GET /usages`, 1.38+ form); `consumerType` is a type, `all` or `unknown`.
   */
  'usages.project': {
    request: obj({
      project: ExternalId,
      user: Type.Optional(ExternalId),
      consumerType: Type.Optional(Type.String({ pattern: '^([A-Z0-9_]+|all|unknown)$', minLength: 1, maxLength: 255 })),
    }),
    reply: obj({
      usages: Type.Record(
        Type.String({ pattern: '^[A-Za-z0-9_]+$' }),
        Type.Record(Type.String({ pattern: '^([A-Z0-9_]+|consumerCount)$' }), Count, { additionalProperties: false }),
        { additionalProperties: false },
      ),
    }),
  },

  /**
   * Allocation candidates (`GET /allocation_candidates`). The top-level `resources`,
   * `required`, `memberOf`, `inTree` form the unsuffixed group; `groups` holds the suffixed
   * (granular) groups by suffix. `resources` is optional only so that a granular-only request
   * is possible; a request with no resources at all is 400 `placement.query.missing_value`.
   */
  'candidates.get': {
    request: obj({
      resources: Type.Optional(ResourceAmounts),
      required: Type.Optional(TraitExprs),
      memberOf: Type.Optional(MemberOf),
      inTree: Type.Optional(Uuid),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PLACEMENT_MAX_INT })),
      /** novactor's, not Placement's: order by free MEMORY_MB (spread: most first) before `limit`. */
      weigh: Type.Optional(Type.Union([Type.Literal('spread'), Type.Literal('pack')])),
      /** novactor's, not Placement's: the reply names every provider it summarizes (`providerNames`). */
      withNames: Type.Optional(Type.Boolean()),
      groups: Type.Optional(
        Type.Record(Type.String({ pattern: SUFFIX_PATTERN }), CandidateGroup, {
          additionalProperties: false,
          maxProperties: 64,
        }),
      ),
      groupPolicy: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('isolate')])),
      rootRequired: Type.Optional(RootTraitExprs),
      sameSubtree: Type.Optional(
        Type.Array(Type.Array(Type.String({ pattern: SUFFIX_PATTERN }), { minItems: 1, maxItems: 64 }), {
          maxItems: 64,
        }),
      ),
    }),
    reply: obj({
      allocationRequests: Type.Array(
        obj({
          allocations: Type.Record(Type.String({ pattern: UUID_PATTERN }), obj({ resources: ResourceAmounts }), {
            additionalProperties: false,
          }),
          mappings: Mappings,
        }),
      ),
      providerSummaries: Type.Record(
        Type.String({ pattern: UUID_PATTERN }),
        obj({
          resources: Type.Record(Type.String({ pattern: CLASS_PATTERN }), obj({ capacity: Count, used: Count }), {
            additionalProperties: false,
          }),
          traits: Type.Array(TraitName),
          parentProviderUuid: NullableUuid,
          rootProviderUuid: Uuid,
        }),
        { additionalProperties: false },
      ),
      /** With `withNames`: each summarized provider's name (a compute host's provider is named after it). */
      providerNames: Type.Optional(
        Type.Record(Type.String({ pattern: UUID_PATTERN }), ProviderName, { additionalProperties: false }),
      ),
    }),
  },

  /** Move inventory and the allocations using it in one atomic step (`POST /reshaper`). */
  reshape: {
    request: obj({
      inventories: Type.Record(
        Type.String({ pattern: UUID_PATTERN }),
        obj({ resourceProviderGeneration: Generation, inventories: InventoryInputs }),
        { additionalProperties: false, minProperties: 1, maxProperties: MAX_MAP },
      ),
      allocations: ConsumerWrites,
    }),
    reply: Empty,
  },
} as const;

/** The body of every failed placement reply: Placement's HTTP status and error code. */
export const PlacementErrorBody = obj({
  status: Type.Integer({ minimum: 100, maximum: 599 }),
  code: Type.String({ minLength: 1, maxLength: 128 }),
  message: Type.String({ maxLength: 4096 }),
});
export type PlacementErrorBody = Static<typeof PlacementErrorBody>;

export type PlacementOp = keyof typeof PlacementOps;
/** The request body of an op. */
export type PlacementRequest<O extends PlacementOp> = Static<(typeof PlacementOps)[O]['request']>;
/** The success reply body of an op. */
export type PlacementReply<O extends PlacementOp> = Static<(typeof PlacementOps)[O]['reply']>;

/** Ops that change state (go through decide/evolve); all others are reads. */
export const PLACEMENT_WRITE_OPS = [
  'providers.create',
  'providers.update',
  'providers.delete',
  'inventories.set',
  'inventories.update',
  'inventories.add',
  'inventories.delete',
  'inventories.deleteAll',
  'traits.set',
  'traits.delete',
  'traits.create',
  'traits.remove',
  'resourceClasses.create',
  'resourceClasses.ensure',
  'resourceClasses.rename',
  'resourceClasses.delete',
  'aggregates.set',
  'allocations.put',
  'allocations.post',
  'allocations.delete',
  'reshape',
] as const satisfies readonly PlacementOp[];
export type PlacementWriteOp = (typeof PLACEMENT_WRITE_OPS)[number];
export type PlacementReadOp = Exclude<PlacementOp, PlacementWriteOp>;
