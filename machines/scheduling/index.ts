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
