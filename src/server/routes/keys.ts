/**
 * Routes: the tenant's API keys: `GET /v1/keys`, `POST /v1/keys` (201, the secret shown once),
 * `DELETE /v1/keys/:keyId`. Admins only, of their own tenant; a key never gets more than
 * the key creating it holds (see `grantIssues`). A key of another tenant is 404, like an unknown one.
 * @module
 */
import type { FastifyReply } from 'fastify';
import * as z from 'zod';
import { can, grantIssues, NewRolesSchema, type Principal } from '../access.ts';
import { principalOf } from '../auth.ts';
import type { Routes } from '../context.ts';
import { ApiErrorSchema, sendError } from '../errors.ts';
import { text } from '../schemas/common.ts';

/**
 * Schema of a listed key (`ApiKey` in the API document): never its secret.
 *
 * @example
 * ```ts
 * ApiKeySchema.parse({ keyId: 'k_1', tenant: 'acme', roles: { '*': 'viewer' }, createdAt: 0 });
 * ```
 */
export const ApiKeySchema = z.object({
  keyId: z.string(),
  tenant: z.string(),
  roles: z.record(z.string(), z.enum(['viewer', 'operator', 'admin'])),
  name: z.string().optional(),
  createdAt: z.number().int().describe('epoch ms'),
  revokedAt: z.number().int().optional().describe('epoch ms; a revoked key no longer authenticates'),
}).meta({ id: 'ApiKey' });

/**
 * Schema of a key just created (`CreatedApiKey`): its secret, shown this once.
 *
 * @example
 * ```ts
 * const { secret } = CreatedApiKeySchema.parse(reply.json());
 * ```
 */
export const CreatedApiKeySchema = ApiKeySchema.extend({ secret: z.string().describe('the key itself: shown once, stored only as a hash') }).meta({ id: 'CreatedApiKey' });

/**
 * Schema of `POST /v1/keys`'s body (`NewApiKey`): roles per topology pattern, an optional name;
 * `tenant`, when given, must be the caller's.
 *
 * @example
 * ```ts
 * NewApiKeySchema.parse({ roles: { rag: 'operator' }, name: 'ci' });
 * ```
 */
export const NewApiKeySchema = z.strictObject({
  roles: NewRolesSchema,
  name: text().min(1).max(200).optional(),
  tenant: text().min(1).optional(),
}).meta({ id: 'NewApiKey' });

const manageable = (p: Principal): boolean => can(p, 'keys.manage', '*');
const FORBIDDEN = 'managing keys needs an admin key of the tenant';

/**
 * Registers `GET /v1/keys`, `POST /v1/keys` and `DELETE /v1/keys/:keyId`.
 *
 * @example
 * ```ts
 * keyRoutes(app, ctx);
 * ```
 */
export const keyRoutes: Routes = (app, ctx) => {
  app.get('/v1/keys', {
    schema: {
      operationId: 'listKeys',
      summary: "The tenant's API keys (admin)",
      response: { 200: z.object({ keys: z.array(ApiKeySchema) }), 401: ApiErrorSchema, 403: ApiErrorSchema, 429: ApiErrorSchema, 503: ApiErrorSchema },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    if (!manageable(p)) return sendError(reply, 403, 'FORBIDDEN', FORBIDDEN);
    return { keys: await ctx.keys.list(p.tenant) };
  });

  app.post('/v1/keys', {
    schema: {
      operationId: 'createKey',
      summary: 'Create an API key of the tenant (admin); the secret is in this reply only',
      body: NewApiKeySchema,
      response: { 201: CreatedApiKeySchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 429: ApiErrorSchema, 503: ApiErrorSchema },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    if (!manageable(p)) return sendError(reply, 403, 'FORBIDDEN', FORBIDDEN);
    const { roles, name, tenant } = request.body;
    if (tenant !== undefined && tenant !== p.tenant) {
      return sendError(reply, 403, 'FORBIDDEN', 'a key can create keys of its own tenant only', [{ code: 'forbidden', path: ['body', 'tenant'], message: `expected '${p.tenant}' or nothing` }]);
    }
    const issues = grantIssues(p, roles);
    if (issues.length > 0) return sendError(reply, 403, 'FORBIDDEN', `a key cannot grant more than it holds: ${issues.map((i) => i.message).join('; ')}`, issues.map((i) => ({ ...i, path: ['body', ...i.path] })));
    const created = await ctx.keys.create({ tenant: p.tenant, roles, ...(name === undefined ? {} : { name }) });
    ctx.log.info({ keyId: created.keyId, tenant: created.tenant, by: p.keyId }, 'key created');
    return reply.code(201).send(created);
  });

  app.delete('/v1/keys/:keyId', {
    schema: {
      operationId: 'revokeKey',
      summary: 'Revoke an API key of the tenant (admin); it stops working at once',
      params: z.object({ keyId: text().min(1) }),
      response: { 200: z.object({ keyId: z.string(), revoked: z.literal(true) }), 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 429: ApiErrorSchema, 503: ApiErrorSchema },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    const { keyId } = request.params;
    const notFound = (): FastifyReply => sendError(reply, 404, 'KEY_NOT_FOUND', `no key '${keyId}'`);
    if (!manageable(p)) return sendError(reply, 403, 'FORBIDDEN', FORBIDDEN);
    const target = (await ctx.keys.list(p.tenant)).find((k) => k.keyId === keyId);
    if (target === undefined) return notFound();
    const issues = target.keyId === p.keyId ? [] : grantIssues(p, target.roles);
    if (issues.length > 0) return sendError(reply, 403, 'FORBIDDEN', `a key can revoke only keys holding no more than it: ${issues.map((i) => i.message).join('; ')}`);
    if (!(await ctx.keys.revoke(keyId, p.tenant))) return notFound();
    ctx.log.info({ keyId, tenant: p.tenant, by: p.keyId }, 'key revoked');
    return { keyId, revoked: true as const };
  });
};
