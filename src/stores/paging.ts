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
 * Encodes the `next` cursor of a list page (opaque to callers).
 *
 * @example
 * ```ts
 * const next = encodeCursor({ createdAt: last.createdAt, runId: last.runId });
 * ```
 */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.runId]), 'utf8').toString('base64url');
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
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (e) {
    throw new StoreError('STORE_INVALID', 'listRuns: the cursor is not one a listRuns page returned', { cause: e });
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'string') {
    throw new StoreError('STORE_INVALID', 'listRuns: the cursor is not one a listRuns page returned');
  }
  return { createdAt: v[0], runId: v[1] };
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
