/**
 * Keys in memory: for tests and a server started without a key file. Secrets are
 * stored only as SHA-256 hashes (the secrets are 32 random bytes, so a fast hash is
 * enough: nothing to brute-force), compared in constant time.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CreatedKey, KeyInfo, KeyStore, NewKey, Principal } from '../access.ts';

/**
 * A new secret: `llmo_` and 32 random bytes, base64url.
 *
 * @example
 * ```ts
 * const secret = newSecret(); // 'llmo_3q2+…'
 * ```
 */
export function newSecret(): string {
  return `llmo_${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored hash of a secret (hex SHA-256).
 *
 * @example
 * ```ts
 * const h = hashSecret(secret);
 * ```
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

interface Row extends KeyInfo {
  readonly hash: string;
}

/**
 * A key store in memory.
 *
 * @example
 * ```ts
 * const keys = createMemoryKeyStore();
 * const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'admin' } });
 * ```
 */
export function createMemoryKeyStore(): KeyStore {
  const rows = new Map<string, Row>();
  const info = (r: Row): KeyInfo => {
    const { hash: _hash, ...rest } = r;
    return rest;
  };
  return {
    location: 'memory',
    async verify(secret) {
      const hash = hashSecret(secret);
      const want = Buffer.from(hash, 'hex');
      for (const r of rows.values()) {
        if (r.revokedAt === undefined && timingSafeEqual(Buffer.from(r.hash, 'hex'), want)) {
          const p: Principal = { keyId: r.keyId, tenant: r.tenant, roles: r.roles, ...(r.name === undefined ? {} : { name: r.name }) };
          return p;
        }
      }
      return undefined;
    },
    async create(k: NewKey): Promise<CreatedKey> {
      const secret = newSecret();
      const hash = hashSecret(secret);
      const row: Row = { keyId: `k_${hash.slice(0, 12)}`, tenant: k.tenant, roles: { ...k.roles }, createdAt: Date.now(), hash, ...(k.name === undefined ? {} : { name: k.name }) };
      rows.set(row.keyId, row);
      return { ...info(row), secret };
    },
    async list(tenant) {
      return [...rows.values()].filter((r) => tenant === undefined || r.tenant === tenant).map(info);
    },
    async revoke(keyId, tenant) {
      const r = rows.get(keyId);
      if (r === undefined || (tenant !== undefined && r.tenant !== tenant)) return false;
      if (r.revokedAt === undefined) rows.set(keyId, { ...r, revokedAt: Date.now() });
      return true;
    },
    async close() {},
  };
}
