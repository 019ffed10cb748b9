/**
 * `/traits` and `/resource_classes`: the global catalog of names (Placement's handlers/trait.py
 * and resource_class.py), each translated to one placement actor call.
 */
import { atLeast } from '../../machines/http/index.js';
import {
  noContent,
  objectBody,
  ok,
  PlacementHttpError,
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
      const q = c.req.query;
      for (const k of q.keys())
        if (k !== 'name' && k !== 'associated')
          throw new PlacementHttpError(400, `Invalid query string parameters: '${k}' is not allowed`);
      const name = q.get('name');
      const associated = q.get('associated');
      if (associated !== null && associated !== 'true' && associated !== 'false')
        throw new PlacementHttpError(400, `The query parameter associated must be true or false, got ${associated}`);
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
      await c.pc.call('traits.show', { name: decodeURIComponent(c.params[0]!) });
      return noContent();
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`^/traits/${NAME}$`),
    since: [1, 6],
    noBody: true,
    async handle(c) {
      const name = decodeURIComponent(c.params[0]!);
      const r = await c.pc.call('traits.create', { name });
      return { status: r.created ? 201 : 204, headers: { location: `${c.req.base}/traits/${name}` } };
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/traits/${NAME}$`),
    since: [1, 6],
    async handle(c) {
      await c.pc.call('traits.remove', { name: decodeURIComponent(c.params[0]!) });
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
      const r = await c.pc.call('resourceClasses.create', objectBody(c) as never);
      return { status: 201, headers: { location: `${c.req.base}/resource_classes/${r.name}` } };
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    async handle(c) {
      const r = await c.pc.call('resourceClasses.get', { name: decodeURIComponent(c.params[0]!) });
      return ok(classJson(c, r.name));
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    noBody: true,
    async handle(c) {
      // 1.2–1.6 renamed a class with a body; 1.7 made PUT create-if-missing with none.
      if (!atLeast(c.v, 1, 7))
        throw new PlacementHttpError(
          400,
          'Renaming a resource class (microversions 1.2–1.6) is not supported; use 1.7 or later.',
        );
      if (c.json !== undefined) throw new PlacementHttpError(400, 'JSON does not validate: PUT takes no body from 1.7');
      const name = decodeURIComponent(c.params[0]!);
      const r = await c.pc.call('resourceClasses.ensure', { name });
      return { status: r.created ? 201 : 204, headers: { location: `${c.req.base}/resource_classes/${name}` } };
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/resource_classes/${NAME}$`),
    since: [1, 2],
    async handle(c) {
      await c.pc.call('resourceClasses.delete', { name: decodeURIComponent(c.params[0]!) });
      return noContent();
    },
  },
];

export const catalogRoutes: readonly PlacementRoute[] = [...traits, ...classes];
