/**
 * decide: judge one write against the state and return the events it causes, or the error
 * Placement would return. Pure and deterministic: it never mutates the state and uses no clock
 * or randomness (a generated provider uuid comes in the command). An empty event list is a
 * successful no-op (e.g. setting the traits a provider already has).
 */
import type { PlacementCommand } from './commands.js';
import type { PlacementError } from './errors.js';
import type { PlacementEvent } from './events.js';
import type { PlacementState } from './model.js';
import { deleteAllocations, postAllocations, putAllocations } from './allocations.js';
import {
  createResourceClass,
  createTrait,
  deleteResourceClass,
  ensureResourceClass,
  removeTrait,
  renameResourceClass,
} from './catalog.js';
import { addInventory, deleteAllInventories, deleteInventory, setInventories, updateInventory } from './inventories.js';
import { clearTraits, createProvider, deleteProvider, setAggregates, setTraits, updateProvider } from './providers.js';
import { reshape } from './reshape.js';

export function decide(state: PlacementState, command: PlacementCommand): PlacementEvent[] | PlacementError {
  switch (command.op) {
    case 'providers.create':
      return createProvider(state, command.body);
    case 'providers.update':
      return updateProvider(state, command.body);
    case 'providers.delete':
      return deleteProvider(state, command.body);
    case 'inventories.set':
      return setInventories(state, command.body);
    case 'inventories.update':
      return updateInventory(state, command.body);
    case 'inventories.add':
      return addInventory(state, command.body);
    case 'inventories.delete':
      return deleteInventory(state, command.body);
    case 'inventories.deleteAll':
      return deleteAllInventories(state, command.body);
    case 'traits.set':
      return setTraits(state, command.body);
    case 'traits.delete':
      return clearTraits(state, command.body);
    case 'traits.create':
      return createTrait(state, command.body);
    case 'traits.remove':
      return removeTrait(state, command.body);
    case 'resourceClasses.create':
      return createResourceClass(state, command.body);
    case 'resourceClasses.ensure':
      return ensureResourceClass(state, command.body);
    case 'resourceClasses.rename':
      return renameResourceClass(state, command.body);
    case 'resourceClasses.delete':
      return deleteResourceClass(state, command.body);
    case 'aggregates.set':
      return setAggregates(state, command.body);
    case 'allocations.put':
      return putAllocations(state, command.body);
    case 'allocations.post':
      return postAllocations(state, command.body);
    case 'allocations.delete':
      return deleteAllocations(state, command.body);
    case 'reshape':
      return reshape(state, command.body);
  }
}
