/**
 * List paging every store shares: the opaque cursor of a `listRuns` page, the page size
 * and the newest-first order a cursor points into.
 * @module
 */
import { StoreError } from '../errors.ts';
import type { RunQuery } from '../runtime/store.ts';

/**
 * Where a list page starts: after this run in newest-first order.
 *
 * @example
 * ```ts
 * const c: ListCursor = { createdAt: last.createdAt, runId: last.runId };
 * ```
 */
export interface ListCursor {
  readonly createdAt: number;
  readonly runId: string;
}

/**
 * The form of every cursor {@link encodeCursor} makes: the creation time in base 36, a dot,
 * the run id in base64url. Any string of this form is a position in the list (a run
 * deleted since still marks one), so the pattern says exactly which cursors a store takes;
 * the HTTP API publishes it in its OpenAPI document.
 *
 * @example
 * ```ts
 * CURSOR_PATTERN.test('lz3k9q1c.ci0x'); // true
 * ```
 */
export const CURSOR_PATTERN = /^[0-9a-z]{1,11}\.[A-Za-z0-9_-]{0,1400}$/;

/**
 * Encodes the `next` cursor of a list page (opaque to callers; of the form {@link CURSOR_PATTERN}).
 *
 * @example
 * ```ts
 * const next = encodeCursor({ createdAt: last.createdAt, runId: last.runId });
 * ```
 */
export function encodeCursor(c: ListCursor): string {
  return `${Math.max(0, Math.trunc(c.createdAt)).toString(36)}.${Buffer.from(c.runId, 'utf8').toString('base64url')}`;
}

/**
 * Reads a cursor of {@link encodeCursor}: `undefined` for a string not of the form
 * {@link CURSOR_PATTERN}.
 *
 * @example
 * ```ts
 * readCursor('0'); // undefined
 * ```
 */
export function readCursor(cursor: string): ListCursor | undefined {
  if (!CURSOR_PATTERN.test(cursor)) return undefined;
  const dot = cursor.indexOf('.');
  return { createdAt: parseInt(cursor.slice(0, dot), 36), runId: Buffer.from(cursor.slice(dot + 1), 'base64url').toString('utf8') };
}

/**
 * Decodes a cursor of {@link encodeCursor}; throws `STORE_INVALID` for anything else.
 *
 * @example
 * ```ts
 * const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
 * ```
 */
export function decodeCursor(cursor: string): ListCursor {
  const c = readCursor(cursor);
  if (c === undefined) throw new StoreError('STORE_INVALID', 'listRuns: the cursor is not one a listRuns page returned');
  return c;
}

/**
 * The page size of a query: default 100, at most 1000; `STORE_INVALID` when not a positive integer.
 *
 * @example
 * ```ts
 * const limit = pageLimit(query);
 * ```
 */
export function pageLimit(query: RunQuery): number {
  if (query.limit === undefined) return 100;
  if (!Number.isInteger(query.limit) || query.limit < 1) throw new StoreError('STORE_INVALID', `listRuns: limit must be a positive integer, got ${String(query.limit)}`);
  return Math.min(query.limit, 1000);
}

/**
 * True when `a` comes after the cursor in newest-first order (createdAt desc, runId desc).
 *
 * @example
 * ```ts
 * rows.filter((r) => after === undefined || afterCursor(r, after));
 * ```
 */
export function afterCursor(a: ListCursor, c: ListCursor): boolean {
  return a.createdAt < c.createdAt || (a.createdAt === c.createdAt && a.runId < c.runId);
}
