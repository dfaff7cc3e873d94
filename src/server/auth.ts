/**
 * Authentication: every `/v1` request carries an API key (`Authorization: Bearer <key>`
 * or `x-api-key: <key>`); the key store verifies it and the request gets its
 * {@link Principal}, or the request ends with 401 before any handler runs.
 * @module
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from './access.ts';
import type { ServerApp, ServerContext } from './context.ts';
import { sendError } from './errors.ts';

/** Paths that need no key: the probes, the scrape, the API document and the live view's files. */
const isPublic = (url: string): boolean => !url.startsWith('/v1/') && url !== '/v1';

/**
 * The secret a request carries, or undefined.
 *
 * @example
 * ```ts
 * const secret = keyOf(request); // from `authorization: Bearer …` or `x-api-key`
 * ```
 */
export function keyOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim() || undefined;
  const x = request.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

/**
 * Adds the authentication hook to the app.
 *
 * @example
 * ```ts
 * authenticate(app, ctx);
 * ```
 */
export function authenticate(app: ServerApp, ctx: ServerContext): void {
  app.addHook('onRequest', async (request, reply) => {
    if (isPublic(request.url)) return;
    const secret = keyOf(request);
    if (secret === undefined) return sendError(reply, 401, 'UNAUTHORIZED', 'this API needs a key: send `Authorization: Bearer <key>` (create one with `llmo keys create`)');
    let principal: Principal | undefined;
    try {
      principal = await ctx.keys.verify(secret);
    } catch (e) {
      ctx.log.error({ err: e, keys: ctx.keys.location }, 'key store failed');
      return sendError(reply, 503, 'KEYS_UNAVAILABLE', `the key store (${ctx.keys.location}) cannot be read now; try again`);
    }
    if (principal === undefined) return sendError(reply, 401, 'UNAUTHORIZED', 'the API key is unknown or revoked');
    request.principal = principal;
    return undefined;
  });
}

/**
 * The principal of an authenticated request; throws if the hook did not run (a route outside /v1).
 *
 * @example
 * ```ts
 * const p = principalOf(request);
 * ```
 */
export function principalOf(request: FastifyRequest): Principal {
  const p = request.principal;
  if (p === undefined) throw new Error(`no principal on ${request.url}: routes that need one live under /v1`);
  return p;
}
