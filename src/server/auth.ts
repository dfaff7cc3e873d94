/**
 * Authentication and rate limits: every `/v1` request carries an API key (`Authorization:
 * Bearer <key>` or `x-api-key: <key>`); the key store verifies it and the request gets its
 * {@link Principal}, or the request ends with 401 before any handler runs. Requests are then
 * limited per key (`options.rateLimit`, 429 `RATE_LIMITED` with `retry-after`), and failed
 * authentications per client address (`options.failedAuthLimit`, by default {@link FAILED_AUTH_LIMIT}), so a flood of bad keys
 * gets 429 without reaching the key store. Both limits are @fastify/rate-limit's.
 * @module
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from './access.ts';
import type { ServerApp, ServerContext } from './context.ts';
import { sendError } from './errors.ts';

/**
 * Failed authentications (no key, unknown or revoked key) one client address may make per
 * window; past it, every `/v1` request from that address answers 429 until the window ends.
 *
 * @example
 * ```ts
 * FAILED_AUTH_LIMIT.max; // 60 per minute
 * ```
 */
export const FAILED_AUTH_LIMIT = Object.freeze({ max: 60, windowMs: 60_000 });

/** Paths that need no key: the probes, the scrape, the API document and the live view's files. */
const isPublic = (url: string): boolean => {
  const path = url.split('?', 1)[0] ?? url;
  return !path.startsWith('/v1/') && path !== '/v1';
};

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
  if (typeof auth === 'string' && /^bearer /i.test(auth)) return auth.slice(7).trim() || undefined;
  const x = request.headers['x-api-key'];
  return typeof x === 'string' && x.trim().length > 0 ? x.trim() : undefined;
}

type Limiter = ReturnType<ServerApp['createRateLimit']>;
type Handler = ReturnType<ServerApp['rateLimit']>;

const tooManyFailures = (reply: FastifyReply, limit: { readonly max: number; readonly windowMs: number }, ttlInSeconds: number): FastifyReply => {
  reply.header('retry-after', Math.max(1, ttlInSeconds));
  return sendError(reply, 429, 'RATE_LIMITED', `too many failed authentications from this address (at most ${limit.max} per ${limit.windowMs / 1000} s); retry in ${Math.max(1, ttlInSeconds)} s`);
};

/**
 * Adds authentication and the rate limits to the app: an `onRequest` hook verifies the key,
 * a `preValidation` hook (after it, before the body is checked) counts the request against its key.
 *
 * @example
 * ```ts
 * authenticate(app, ctx);
 * ```
 */
export function authenticate(app: ServerApp, ctx: ServerContext): void {
  // decorates the app with the limiters; no route gets the plugin's own per-IP hook
  void app.register(rateLimit, { global: false });
  const { max, windowMs } = ctx.options.rateLimit;
  const authLimit = ctx.options.failedAuthLimit;
  let failures: Limiter | undefined;
  let perKey: Handler | undefined;

  app.addHook('onRequest', async (request, reply) => {
    if (isPublic(request.url)) return undefined;
    failures ??= app.createRateLimit({ max: authLimit.max, timeWindow: authLimit.windowMs });
    const seen = await failures(request, { increment: false });
    if (!seen.isAllowed && seen.remaining === 0) return tooManyFailures(reply, authLimit, seen.ttlInSeconds);
    const refuse = async (message: string): Promise<FastifyReply> => {
      const counted = await failures!(request);
      if (!counted.isAllowed && counted.isExceeded) return tooManyFailures(reply, authLimit, counted.ttlInSeconds);
      return sendError(reply, 401, 'UNAUTHORIZED', message);
    };
    const secret = keyOf(request);
    if (secret === undefined) return refuse('this API needs a key: send `Authorization: Bearer <key>` (create one with `llmo keys create`)');
    let principal: Principal | undefined;
    try {
      principal = await ctx.keys.verify(secret);
    } catch (e) {
      ctx.log.error({ err: e, keys: ctx.keys.location }, 'key store failed');
      return sendError(reply, 503, 'KEYS_UNAVAILABLE', `the key store (${ctx.keys.location}) cannot be read now; try again`);
    }
    if (principal === undefined) return refuse('the API key is unknown or revoked');
    request.principal = principal;
    return undefined;
  });

  app.addHook('preValidation', async (request, reply) => {
    if (request.principal === undefined) return;
    perKey ??= app.rateLimit({
      max,
      timeWindow: windowMs,
      keyGenerator: (req) => `key:${req.principal?.keyId ?? ''}`,
      errorResponseBuilder: (_req, c) => Object.assign(new Error(`too many requests for this key (at most ${max} per ${windowMs / 1000} s); retry in ${c.after}`), { statusCode: 429 }),
    });
    await perKey.call(app, request, reply);
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
