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
 * errors by code (validation 400, unknown run 404), anything else 500 without internals.
 *
 * @example
 * ```ts
 * app.setErrorHandler((e, _req, reply) => replyForError(reply, e));
 * ```
 */
export function replyForError(reply: FastifyReply, e: unknown): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(e)) {
    const where = e.validationContext ?? 'body';
    const issues: Issue[] = e.validation.map((v) => {
      const issue = v.params.issue as z.core.$ZodIssue;
      return { code: issue.code, path: [where, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message };
    });
    return sendError(reply, 400, 'REQUEST_INVALID', `the request ${where} is invalid: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issues);
  }
  const err = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  const mapped = typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
  if (mapped !== undefined) return sendError(reply, mapped[0], mapped[1], String(err.message));
  if (err.statusCode === 429) return sendError(reply, 429, 'RATE_LIMITED', String(err.message));
  if (e instanceof SyntaxError && typeof err.statusCode === 'number') return sendError(reply, 400, 'BODY_INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  if (isOrchestratorError(e)) {
    const status = e.code === 'RUN_NOT_FOUND' ? 404 : e.name === 'ValidationError' || e.name === 'WaitError' ? 400 : 500;
    const issues = 'issues' in e ? (e as { issues?: readonly Issue[] }).issues : undefined;
    return sendError(reply, status, e.code, e.message, issues);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return sendError(reply, err.statusCode, typeof err.code === 'string' ? err.code : 'BAD_REQUEST', String(err.message));
  }
  return sendError(reply, 500, 'INTERNAL', 'the server failed to answer this request; it is logged with the request id');
}
