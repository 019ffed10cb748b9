/**
 * `/traits` and `/resource_classes`: the global catalog of names (Placement's handlers/trait.py
 * and resource_class.py), each translated to one placement actor call.
 */
import { placementSchemas as schemas, validateJson } from '../../machines/http/index.js';
import {
  absoluteUrl,
  mustBeName,
  noContent,
  ok,
  PlacementHttpError,
  validBody,
  validQuery,
  type PlacementCall,
  type PlacementRoute,
} from './placement-kit.js';

const NAME = '([^/]+)';

const classJson = (c: PlacementCall, name: string) => ({
  name,
  links: [{ rel: 'self', href: `${c.req.base}/resource_classes/${name}` }],
});

const traits: PlacementRoute[] = [
  {
    method: 'GET',
    path: /^\/traits$/,
    since: [1, 6],
    async handle(c) {
      validQuery(c, schemas.TRAITS_QUERY);
      const q = c.req.query;
      const name = q.get('name');
      const associated = q.get('associated')?.toLowerCase() ?? null;
      if (associated !== null && associated !== 'true' && associated !== 'false')
        throw new PlacementHttpError(400, 'The query parameter "associated" only accepts "true" or "false"');
      let filter: { prefix?: string; names?: string[] } = {};
      if (name !== null) {
        if (name.startsWith('startswith:')) filter = { prefix: name.slice('startswith:'.length) };
        else if (name.startsWith('in:')) filter = { names: name.slice(3).split(',') };
        else
          throw new PlacementHttpError(
            400,
            'Badly formatted name parameter. Expected name query string parameter in form: ' +
              `?name=[in|startswith]:[name1,name2|prefix]. Got: "${name}"`,
          );
      }
      const r = await c.pc.call('traits.list', {
        ...filter,
        ...(associated !== null ? { associated: associated === 'true' } : {}),
      });
      return ok({ traits: r.traits });
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/traits/${NAME}$`),
    since: [1, 6],
    async handle(c) {
      mustBeName(c.params[0]!, `No such trait(s): ${c.params[0]!}.`);
      await c.pc.call('traits.show', { name: c.params[0]! });
      return noContent();
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`^/traits/${NAME}$`),
    since: [1, 6],
    noBody: true,
    cacheHeaders: true,
    async handle(c) {
      const name = c.params[0]!;
      if (validateJson(name, schemas.CUSTOM_TRAIT_NAME) !== undefined)
        throw new PlacementHttpError(
          400,
          'The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix ' +
            '"CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"',
        );
      const r = await c.pc.call('traits.create', { name });
      return { status: r.created ? 201 : 204, headers: { location: absoluteUrl(c, `/traits/${name}`) } };
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/traits/${NAME}$`),
    since: [1, 6],
    async handle(c) {
      mustBeName(c.params[0]!, `No such trait(s): ${c.params[0]!}.`);
      await c.pc.call('traits.remove', { name: c.params[0]! });
      return noContent();
    },
  },
];

const classes: PlacementRoute[] = [
  {
    method: 'GET',
    path: /^\/resource_classes$/,
    since: [1, 2],
    async handle(c) {
      const r = await c.pc.call('resourceClasses.list', {});
      return ok({ resource_classes: r.resourceClasses.map((x) => classJson(c, x.name)) });
    },
  },
  {
    method: 'POST',
    path: /^\/resource_classes$/,
    since: [1, 2],
    async handle(c) {
      const b = validBody<{ name: string }>(c, schemas.RESOURCE_CLASS_BODY);
      const r = await c.pc.call('resourceClasses.create', { name: b.name });
      return { status: 201, headers: { location: absoluteUrl(c, `/resource_classes/${r.name}`) } };
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    async handle(c) {
      mustBeName(c.params[0]!, `No such resource class ${c.params[0]!}.`);
      const r = await c.pc.call('resourceClasses.get', { name: c.params[0]! });
      return ok(classJson(c, r.name));
    },
  },
  {
    // 1.2–1.6: a new name for a custom class, in the body.
    method: 'PUT',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    until: [1, 6],
    async handle(c) {
      const b = validBody<{ name: string }>(c, schemas.RESOURCE_CLASS_BODY);
      mustBeName(c.params[0]!, `No such resource class ${c.params[0]!}.`);
      const r = await c.pc.call('resourceClasses.rename', { name: c.params[0]!, newName: b.name });
      return ok(classJson(c, r.name));
    },
  },
  {
    // 1.7: create-if-missing, no body.
    method: 'PUT',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 7],
    noBody: true,
    async handle(c) {
      const name = c.params[0]!;
      // Placement checks the name as the body of a POST would be.
      validBody({ ...c, json: { name } }, schemas.RESOURCE_CLASS_BODY);
      const r = await c.pc.call('resourceClasses.ensure', { name });
      return { status: r.created ? 201 : 204, headers: { location: absoluteUrl(c, `/resource_classes/${name}`) } };
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    async handle(c) {
      mustBeName(c.params[0]!, `No such resource class ${c.params[0]!}.`);
      await c.pc.call('resourceClasses.delete', { name: c.params[0]! });
      return noContent();
    },
  },
];

export const catalogRoutes: readonly PlacementRoute[] = [...traits, ...classes];
