/**
 * The `llmo_keys` table both SQL key stores use, and the row conversions.
 * @module
 */
import type { Roles } from '../access.ts';
import type { KeyRow } from './rows.ts';

/**
 * A `llmo_keys` row as the drivers return it.
 *
 * @example
 * ```ts
 * const row = rowOf(db.prepare('SELECT * FROM llmo_keys WHERE hash = ?').get(hash) as SqlKeyRow);
 * ```
 */
export interface SqlKeyRow {
  readonly key_id: string;
  readonly hash: string;
  readonly tenant: string;
  readonly roles: string;
  readonly name: string | null;
  readonly created_at: number | string;
  readonly revoked_at: number | string | null;
}

/**
 * A key row from a table row (`roles` is JSON text; BIGINT columns may come as strings).
 *
 * @example
 * ```ts
 * const row = rowOf(r);
 * ```
 */
export function rowOf(r: SqlKeyRow): KeyRow {
  return {
    keyId: r.key_id,
    hash: r.hash,
    tenant: r.tenant,
    roles: JSON.parse(r.roles) as Roles,
    createdAt: Number(r.created_at),
    ...(r.name === null ? {} : { name: r.name }),
    ...(r.revoked_at === null ? {} : { revokedAt: Number(r.revoked_at) }),
  };
}

/**
 * The columns of a new row, in {@link KEY_COLUMNS} order.
 *
 * @example
 * ```ts
 * insert.run(...valuesOf(row));
 * ```
 */
export function valuesOf(r: KeyRow): [string, string, string, string, string | null, number] {
  return [r.keyId, r.hash, r.tenant, JSON.stringify(r.roles), r.name ?? null, r.createdAt];
}

/**
 * The insert's column list.
 *
 * @example
 * ```ts
 * `INSERT INTO llmo_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`;
 * ```
 */
export const KEY_COLUMNS = 'key_id, hash, tenant, roles, name, created_at';
