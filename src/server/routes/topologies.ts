/**
 * Routes: GET /v1/me (the caller), GET /v1/topologies and /v1/topologies/:name (the served
 * topologies the caller has a role on, with their graphs).
 * @module
 */
import { can } from '../access.ts';
import { principalOf } from '../auth.ts';
import type { Routes } from '../context.ts';
import { errorReplies } from '../schemas/common.ts';
import { MeSchema, TopologyListSchema, TopologyParamsSchema, TopologyViewSchema } from '../schemas/topologies.ts';
import { topologyView } from '../views.ts';
import { visibleTopology } from './lookup.ts';

/**
 * Registers GET /v1/me, GET /v1/topologies and GET /v1/topologies/:name.
 *
 * @example
 * ```ts
 * topologyRoutes(app, ctx);
 * ```
 */
export const topologyRoutes: Routes = (app, ctx) => {
  app.get('/v1/me', {
    schema: { tags: ['keys'], summary: 'The caller: key id, tenant, roles by topology', response: { 200: MeSchema, ...errorReplies() } },
  }, async (request) => {
    const p = principalOf(request);
    return { keyId: p.keyId, tenant: p.tenant, roles: { ...p.roles }, ...(p.name === undefined ? {} : { name: p.name }) };
  });

  app.get('/v1/topologies', {
    schema: { tags: ['topologies'], summary: 'The served topologies the key has a role on, with their graphs', response: { 200: TopologyListSchema, ...errorReplies() } },
  }, async (request) => {
    const p = principalOf(request);
    const topologies = [...ctx.backend.topologies.values()].filter((t) => can(p, 'topologies.read', t.name)).map(topologyView);
    return { topologies };
  });

  app.get('/v1/topologies/:name', {
    schema: { tags: ['topologies'], summary: 'One served topology and its graph', params: TopologyParamsSchema, response: { 200: TopologyViewSchema, ...errorReplies(400, 404) } },
  }, async (request) => topologyView(visibleTopology(ctx, principalOf(request), request.params.name)));
};
