export {
  groupAllows,
  groupWeight,
  occupied,
  placementOf,
  reserve,
  rulesProblem,
  type GroupPlacement,
  type MemberFacts,
} from './server-group.js';
export {
  candidatesRequest,
  DEFAULT_ZONE,
  extraSpecsProblem,
  STATUS_DISABLED,
  type AggregateFacts,
  type Asked,
  type CandidatesRequest,
} from './request.js';
export { aggregatesOfHost, zoneConflict, zoneOf, zonesOf } from './aggregates.js';
export { DEFAULT_MULTIPLIERS, ramOnly, weighHosts, type HostFacts, type Multipliers, type Weighed } from './weigh.js';
export {
  architectureOf,
  archTrait,
  ARCHITECTURES,
  imagePropertiesProblem,
  imageRequiredTraits,
} from './image-properties.js';
