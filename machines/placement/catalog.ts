/** Decisions on the global catalogues: custom resource classes and custom traits (docs/protocol.md §9.2). */
import type { PlacementRequest } from '../../protocol/schemas/placement.js';
import { badRequest, conflict, notFound, type PlacementError } from './errors.js';
import type { PlacementEvent } from './events.js';
import { classExists, traitExists, type PlacementState } from './model.js';
import { isCustomName, isStandardResourceClass, isStandardTrait } from './names.js';

/** POST /resource_classes: 409 when the class exists. */
export function createResourceClass(
  state: PlacementState,
  body: PlacementRequest<'resourceClasses.create'>,
): PlacementEvent[] | PlacementError {
  if (!isCustomName(body.name)) return badRequest(`Resource class names must start with CUSTOM_: ${body.name}`);
  if (classExists(state, body.name)) return conflict(`Conflicting resource class already exists: ${body.name}`);
  return [{ type: 'ResourceClassCreated', name: body.name }];
}

/** PUT /resource_classes/{name}: create if missing, no event (204) when it exists. */
export function ensureResourceClass(
  state: PlacementState,
  body: PlacementRequest<'resourceClasses.ensure'>,
): PlacementEvent[] | PlacementError {
  if (!isCustomName(body.name)) return badRequest(`Resource class names must start with CUSTOM_: ${body.name}`);
  if (classExists(state, body.name)) return [];
  return [{ type: 'ResourceClassCreated', name: body.name }];
}

/**
 * PUT /resource_classes/{name} of 1.2–1.6: a new name for a custom class. Placement renames a
 * class under the inventories that use it (they hold its id); here inventories and allocations
 * are keyed by the name, so a class in use is refused 409 instead (docs/http-api.md).
 */
export function renameResourceClass(
  state: PlacementState,
  body: PlacementRequest<'resourceClasses.rename'>,
): PlacementEvent[] | PlacementError {
  if (!classExists(state, body.name)) return notFound(`No such resource class ${body.name}.`);
  if (isStandardResourceClass(body.name)) return badRequest(`Cannot update standard resource class ${body.name}`);
  if (body.newName === body.name) return [];
  if (classExists(state, body.newName)) return conflict(`Resource class already exists: ${body.newName}`);
  if ((state.byClass.get(body.name)?.size ?? 0) > 0)
    return conflict(`Cannot rename resource class ${body.name}: inventory of it exists. Delete that inventory first.`);
  return [
    { type: 'ResourceClassDeleted', name: body.name },
    { type: 'ResourceClassCreated', name: body.newName },
  ];
}

export function deleteResourceClass(
  state: PlacementState,
  body: PlacementRequest<'resourceClasses.delete'>,
): PlacementEvent[] | PlacementError {
  // Placement looks the class up first (404), then refuses standard ones (400), then in-use ones (409).
  if (!classExists(state, body.name)) return notFound(`No such resource class ${body.name}.`);
  if (isStandardResourceClass(body.name))
    return badRequest(`Error in delete resource class: Cannot delete standard resource class ${body.name}.`);
  if ((state.byClass.get(body.name)?.size ?? 0) > 0)
    return conflict(
      `Error in delete resource class: Cannot delete resource class ${body.name}. Class is in use in inventory.`,
    );
  return [{ type: 'ResourceClassDeleted', name: body.name }];
}

/** PUT /traits/{name}: 201 with an event, or 204 with none when it exists. */
export function createTrait(
  state: PlacementState,
  body: PlacementRequest<'traits.create'>,
): PlacementEvent[] | PlacementError {
  if (!isCustomName(body.name))
    return badRequest(`The trait is invalid. A valid trait must be CUSTOM_ prefixed: ${body.name}`);
  if (traitExists(state, body.name)) return [];
  return [{ type: 'TraitCreated', name: body.name }];
}

export function removeTrait(
  state: PlacementState,
  body: PlacementRequest<'traits.remove'>,
): PlacementEvent[] | PlacementError {
  if (!traitExists(state, body.name)) return notFound(`No such trait(s): ${body.name}.`);
  if (isStandardTrait(body.name)) return badRequest(`Cannot delete standard trait ${body.name}.`);
  if ((state.traitUse.get(body.name) ?? 0) > 0) {
    return conflict(`The trait ${body.name} is in use by a resource provider.`);
  }
  return [{ type: 'TraitDeleted', name: body.name }];
}
