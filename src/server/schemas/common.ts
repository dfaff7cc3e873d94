/**
 * Schemas shared by the API's routes: the serialized error a run carries, token usage,
 * and the error replies every route declares (so the OpenAPI document lists them).
 * @module
 */
import * as z from 'zod';
import { ApiErrorSchema } from '../errors.ts';

/**
 * Schema of a serialized engine error (`SerializedError`), as runs and nodes carry it.
 *
 * @example
 * ```ts
 * RunErrorSchema.parse({ name: 'ValidationError', code: 'INPUT_INVALID', message: 'input is invalid', retriable: false });
 * ```
 */
export const RunErrorSchema = z.object({
  name: z.string(),
  code: z.string(),
  message: z.string(),
  retriable: z.boolean(),
  nodeId: z.string().optional(),
  issues: z.array(z.object({ code: z.string(), path: z.array(z.union([z.string(), z.number()])), message: z.string() })).optional(),
  /** The error's cause, serialized the same way (kept as given). */
  cause: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'RunError' });

/**
 * Schema of a run's token and cost totals.
 *
 * @example
 * ```ts
 * UsageSchema.parse({ inputTokens: 12, outputTokens: 40, costUsd: 0.0004, calls: 1 });
 * ```
 */
export const UsageSchema = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cachedTokens: z.number().optional(),
  reasoningTokens: z.number().optional(),
  costUsd: z.number(),
  calls: z.number(),
}).meta({ id: 'Usage' });

/**
 * The error replies of a route: `errorReplies(400, 404)` is `{ 400: ApiError, 404: ApiError }`
 * plus 401 and 429 (every `/v1` route can answer them) and 500.
 *
 * @example
 * ```ts
 * app.get('/v1/runs/:id', { schema: { response: { 200: RunViewSchema, ...errorReplies(404) } } }, handler);
 * ```
 */
export function errorReplies<S extends number>(...statuses: readonly S[]): Record<S | 401 | 429 | 500, typeof ApiErrorSchema> {
  const out = {} as Record<S | 401 | 429 | 500, typeof ApiErrorSchema>;
  for (const s of [...statuses, 401, 429, 500] as (S | 401 | 429 | 500)[]) out[s] = ApiErrorSchema;
  return out;
}

/** No NUL (U+0000) anywhere. */
const NO_NUL = /^[^\u0000]*$/;

/**
 * A string a caller sends that a store may keep or look up as text (names, ids, reasons): any
 * text but the NUL character (U+0000), which PostgreSQL's text cannot hold; the OpenAPI document
 * says so as a pattern. Chain further checks on it.
 *
 * @example
 * ```ts
 * const Params = z.object({ id: text().min(1).max(200) });
 * ```
 */
export function text(): z.ZodString {
  return z.string().regex(NO_NUL, 'must not contain the NUL character (U+0000)');
}

/**
 * A whole number from `min` (to `max`) in a query string (`?seq=3`); an empty value (`?seq=`) or
 * anything else is refused with "expected a whole number" rather than read as 0. Put
 * `.optional()` or `.default()` outside.
 *
 * @example
 * ```ts
 * const StateQuery = z.object({ seq: queryInt(0).optional() });
 * ```
 */
export function queryInt(min: number, max?: number) {
  const whole = z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(min);
  return z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), max === undefined ? whole : whole.max(max));
}
