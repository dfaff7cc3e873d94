/**
 * The generic options check every entry point uses: `parseOptions` runs a zod schema and
 * turns its failures into one {@link ValidationError} (`OPTIONS_INVALID`).
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';

/**
 * Checks options against their schema; throws {@link ValidationError} (`OPTIONS_INVALID`)
 * naming every bad field under `options`.
 *
 * @example
 * ```ts
 * const opts = parseOptions(RunOptionsSchema, options, 'run options');
 * ```
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', `${what} are invalid`, toIssues(r.error.issues, ['options']));
  return r.data;
}

/**
 * A positive integer option (counts and limits), shared by the option schemas of the runtime.
 *
 * @example
 * ```ts
 * const S = z.strictObject({ maxInFlight: positiveInt.optional() });
 * ```
 */
export const positiveInt = z.number().int().positive();
