/**
 * Turns zod issues into the engine's {@link Issue} shape, so every validation
 * failure names the path of the bad field the same way.
 * @module
 */
import type { z } from 'zod';
import type { Issue } from '../errors.ts';

/**
 * Converts zod issues (optionally under a path prefix) to engine issues.
 *
 * @example
 * ```ts
 * const r = schema.safeParse(value);
 * if (!r.success) return toIssues(r.error.issues, ['input']);
 * ```
 */
export function toIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly (string | number)[] = []): Issue[] {
  return issues.map((i) => ({
    path: [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    message: i.message,
  }));
}
