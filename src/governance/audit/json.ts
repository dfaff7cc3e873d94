/**
 * JSON values as audit records hold them: a zod schema whose issue names the first place a value
 * stops being JSON, and the well-formed form (no lone surrogates) that survives UTF-8 storage.
 * @module
 */
import * as z from 'zod';

/**
 * A JSON value, as an audit record's `details` holds it.
 *
 * @example
 * ```ts
 * const details: JsonValue = { usage: { inputTokens: 12 }, tags: ['a'] };
 * ```
 */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Where a value stops being JSON (a non-finite number, undefined, a function, a class instance, a cycle), if it does. */
function nonJson(v: unknown, path: (string | number)[], seen: Set<object>): { path: (string | number)[]; message: string } | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : { path, message: `${v} is not a JSON number` };
  if (typeof v !== 'object') return { path, message: `a ${typeof v} is not JSON` };
  if (seen.has(v)) return { path, message: 'a cycle is not JSON' };
  const proto = Object.getPrototypeOf(v) as unknown;
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return { path, message: 'only plain objects and arrays are JSON' };
  seen.add(v);
  try {
    for (const [k, x] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
      const p = nonJson(x, [...path, k], seen);
      if (p !== undefined) return p;
    }
    return undefined;
  } finally {
    seen.delete(v);
  }
}

/**
 * zod schema of a {@link JsonValue}: an issue names the first place that is not JSON.
 *
 * @example
 * ```ts
 * JsonValueSchema.safeParse({ cost: NaN }).error?.issues[0]?.path; // ['cost']
 * ```
 */
export const JsonValueSchema = z.custom<JsonValue>().superRefine((v, ctx) => {
  const p = nonJson(v, [], new Set());
  if (p !== undefined) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
});

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The value with every lone UTF-16 surrogate (in strings and keys) replaced by U+FFFD, as UTF-8
 * (a file, an Avro string) would store it: what is hashed is what any reader reads back.
 *
 * @example
 * ```ts
 * wellFormed({ text: 'half \uD83D' }); // { text: 'half \uFFFD' }
 * ```
 */
export function wellFormed<T>(v: T): T {
  if (typeof v === 'string') return v.replace(LONE_SURROGATE, '\uFFFD') as T;
  if (Array.isArray(v)) return v.map((x: unknown) => wellFormed(x)) as T;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), wellFormed(x)])) as T;
  return v;
}

