/**
 * The one error body every failing request gets: `{ error: { code, message, issues? } }`,
 * with the status code that fits. Errors are data: `code` is stable, `issues` name bad fields.
 * @module
 */
import * as z from 'zod';
import type { FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Issue } from '../errors.ts';
import { isOrchestratorError } from '../errors.ts';

/**
 * Schema of an error body (the OpenAPI document's `ApiError`).
 *
 * @example
 * ```ts
 * ApiErrorSchema.parse({ error: { code: 'RUN_NOT_FOUND', message: "no run 'r-1'" } });
 * ```
 */
export const ApiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ code: z.string(), path: z.array(z.union([z.string(), z.number()])), message: z.string() })).optional(),
  }),
}).meta({ id: 'ApiError' });

/**
 * An error body.
 *
 * @example
 * ```ts
 * const body: ApiError = { error: { code: 'UNAUTHORIZED', message: 'give an API key' } };
 * ```
 */
export type ApiError = z.infer<typeof ApiErrorSchema>;

/**
 * Sends an error body with `status`.
 *
 * @example
 * ```ts
 * return sendError(reply, 404, 'RUN_NOT_FOUND', `no run '${id}'`);
 * ```
 */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, issues?: readonly Issue[]): FastifyReply {
  const body: ApiError = { error: { code, message, ...(issues === undefined ? {} : { issues: issues.map((i) => ({ code: i.code, path: [...i.path], message: i.message })) }) } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/**
 * A failure a route throws to answer with `status` and an error body (the app's error
 * handler sends it through {@link sendError}).
 *
 * @example
 * ```ts
 * throw new ApiFailure(404, 'RUN_NOT_FOUND', `no run 'r-1'`);
 * ```
 */
export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  readonly status: number;
  readonly code: string;
  readonly issues: readonly Issue[] | undefined;
  constructor(status: number, code: string, message: string, issues?: readonly Issue[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

/**
 * The status of an engine error by its code, when not 500: unknown runs 404, taken ids and
 * runs in the wrong state 409, refused inputs, signals and forks 400.
 *
 * @example
 * ```ts
 * ENGINE_STATUS['RUN_EXISTS']; // 409
 * ```
 */
export const ENGINE_STATUS: Readonly<Record<string, number>> = Object.freeze({
  RUN_NOT_FOUND: 404,
  TOPOLOGY_NOT_FOUND: 404,
  RUN_EXISTS: 409,
  RUN_NOT_WAITING: 409,
  WAIT_NAME_MISMATCH: 409,
  TOPOLOGY_CHANGED: 409,
  RUN_NOT_CANCELLABLE: 409,
  SIGNAL_INVALID: 400,
  FORK_INVALID: 400,
  INPUT_INVALID: 400,
});

const FASTIFY_CODES: Readonly<Record<string, readonly [number, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BODY_INVALID'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'BODY_INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'BODY_INVALID_JSON'],
};

/**
 * The status and body of any error a route or the framework threw: request validation
 * (400 naming the fields), body parsing (400/413/415), rate limits (429), the engine's own
 * errors by code (by {@link ENGINE_STATUS}: refused input 400, unknown run 404, taken id or wrong state 409), anything else 500 without internals.
 *
 * @example
 * ```ts
 * app.setErrorHandler((e, _req, reply) => replyForError(reply, e));
 * ```
 */
export function replyForError(reply: FastifyReply, e: unknown): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(e)) {
    const where = e.validationContext ?? 'body';
    // fastify-type-provider-zod gives each zod issue as { keyword: code, instancePath: '/a/0/b', message }.
    const issues: Issue[] = e.validation.map((v) => ({
      code: v.keyword,
      path: [where, ...v.instancePath.split('/').slice(1).filter((p) => p !== '').map((p) => (/^\d+$/.test(p) ? Number(p) : p))],
      message: v.message ?? 'is invalid',
    }));
    return sendError(reply, 400, 'REQUEST_INVALID', `the request ${where} is invalid: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issues);
  }
  const err = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  const mapped = typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
  if (mapped !== undefined) return sendError(reply, mapped[0], mapped[1], String(err.message));
  if (err.statusCode === 429) return sendError(reply, 429, 'RATE_LIMITED', String(err.message));
  if (e instanceof SyntaxError && typeof err.statusCode === 'number') return sendError(reply, 400, 'BODY_INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  if (e instanceof ApiFailure) return sendError(reply, e.status, e.code, e.message, e.issues);
  if (isOrchestratorError(e)) {
    const status = ENGINE_STATUS[e.code] ?? (e.name === 'ValidationError' || e.name === 'WaitError' ? 400 : 500);
    const issues = 'issues' in e ? (e as { issues?: readonly Issue[] }).issues : undefined;
    return sendError(reply, status, e.code, e.message, issues);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return sendError(reply, err.statusCode, typeof err.code === 'string' ? err.code : 'BAD_REQUEST', String(err.message));
  }
  return sendError(reply, 500, 'INTERNAL', 'the server failed to answer this request; it is logged with the request id');
}
