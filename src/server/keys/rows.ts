/**
 * What every key store shares: the validated shape of a new key, the stored row (the
 * secret's hash, never the secret), and the conversions to a listed key and a principal.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { OrchestratorError, ValidationError, toIssues } from '../../errors.ts';
import { RolesSchema, type CreatedKey, type KeyInfo, type NewKey, type Principal, type Roles } from '../access.ts';

/**
 * Schema of a {@link NewKey}: a tenant, at least one topology pattern with its role, an optional name.
 *
 * @example
 * ```ts
 * NewKeySchema.parse({ tenant: 'acme', roles: { '*': 'operator' }, name: 'ci' });
 * ```
 */
export const NewKeySchema = z.strictObject({
  tenant: z.string().min(1).max(200).regex(/^\S*$/, 'expected a tenant name without spaces'),
  roles: RolesSchema,
  name: z.string().min(1).max(200).optional(),
});

/**
 * A key as a store keeps it: its listed fields and the hex SHA-256 of its secret.
 *
 * @example
 * ```ts
 * const row: KeyRow = { keyId: 'k_1', tenant: 'acme', roles: { '*': 'viewer' }, createdAt: 0, hash: hashSecret(secret) };
 * ```
 */
export interface KeyRow extends KeyInfo {
  readonly hash: string;
}

/**
 * A new secret: `llmo_` and 32 random bytes, base64url.
 *
 * @example
 * ```ts
 * const secret = newSecret(); // 'llmo_3q2…'
 * ```
 */
export function newSecret(): string {
  return `llmo_${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored hash of a secret (hex SHA-256). The secrets are 32 random bytes, so a fast
 * hash is enough: there is nothing to brute-force.
 *
 * @example
 * ```ts
 * const h = hashSecret(secret);
 * ```
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Whether a stored hash is the hash of `secret`, compared in constant time (the row was found
 * by its hash; this guards against a store that matched loosely).
 *
 * @example
 * ```ts
 * if (row !== undefined && sameHash(row.hash, hashSecret(secret))) return principalOf(row);
 * ```
 */
export function sameHash(stored: string, computed: string): boolean {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(computed, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/**
 * Checks a key to create; throws a ValidationError `KEY_INVALID` naming the bad field.
 *
 * @example
 * ```ts
 * const k = parseNewKey({ tenant: 'acme', roles: { rag: 'operator' } });
 * ```
 */
export function parseNewKey(k: NewKey): NewKey {
  const r = NewKeySchema.safeParse(k);
  if (!r.success) throw new ValidationError('KEY_INVALID', 'the key is invalid', toIssues(r.error.issues));
  const { tenant, roles, name } = r.data;
  return { tenant, roles: { ...roles } as Roles, ...(name === undefined ? {} : { name }) };
}

/**
 * A new row and its secret for a checked key.
 *
 * @example
 * ```ts
 * const { row, secret } = newRow(parseNewKey(k), Date.now());
 * ```
 */
export function newRow(k: NewKey, now: number): { readonly row: KeyRow; readonly secret: string } {
  const secret = newSecret();
  const hash = hashSecret(secret);
  const row: KeyRow = { keyId: `k_${randomBytes(8).toString('hex')}`, tenant: k.tenant, roles: { ...k.roles }, createdAt: now, hash, ...(k.name === undefined ? {} : { name: k.name }) };
  return { row, secret };
}

/**
 * A row without its hash.
 *
 * @example
 * ```ts
 * const listed = rows.map(infoOf);
 * ```
 */
export function infoOf(r: KeyRow): KeyInfo {
  const { hash: _hash, ...rest } = r;
  return rest;
}

/**
 * A created key: its listed fields and the secret, shown once.
 *
 * @example
 * ```ts
 * return createdOf(row, secret);
 * ```
 */
export function createdOf(r: KeyRow, secret: string): CreatedKey {
  return { ...infoOf(r), secret };
}

/**
 * The principal a live row authenticates.
 *
 * @example
 * ```ts
 * const p = principalOfRow(row);
 * ```
 */
export function principalOfRow(r: KeyRow): Principal {
  return { keyId: r.keyId, tenant: r.tenant, roles: r.roles, ...(r.name === undefined ? {} : { name: r.name }) };
}

/**
 * The error a key store throws when its file or database fails (the server answers 503).
 *
 * @example
 * ```ts
 * throw keysFailed('keys.json', 'read', e);
 * ```
 */
export function keysFailed(location: string, op: string, cause: unknown): OrchestratorError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new OrchestratorError('KEY_STORE_FAILED', `the key store ${location} failed to ${op}: ${why}`, { cause, retriable: true });
}
