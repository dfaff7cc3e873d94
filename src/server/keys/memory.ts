/**
 * Keys in memory: for tests and a server started without a key file. Secrets are
 * stored only as SHA-256 hashes, looked up by hash (O(1)) and compared in constant time.
 * @module
 */
import type { CreatedKey, KeyStore, NewKey } from '../access.ts';
import { createdOf, hashSecret, infoOf, newRow, parseNewKey, principalOfRow, sameHash, type KeyRow } from './rows.ts';

export { newSecret, hashSecret } from './rows.ts';

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
  const byId = new Map<string, KeyRow>();
  const byHash = new Map<string, KeyRow>();
  return {
    location: 'memory',
    async verify(secret) {
      const hash = hashSecret(secret);
      const r = byHash.get(hash);
      return r !== undefined && r.revokedAt === undefined && sameHash(r.hash, hash) ? principalOfRow(r) : undefined;
    },
    async create(k: NewKey): Promise<CreatedKey> {
      const { row, secret } = newRow(parseNewKey(k), Date.now());
      byId.set(row.keyId, row);
      byHash.set(row.hash, row);
      return createdOf(row, secret);
    },
    async list(tenant) {
      return [...byId.values()].filter((r) => tenant === undefined || r.tenant === tenant).map(infoOf);
    },
    async revoke(keyId, tenant) {
      const r = byId.get(keyId);
      if (r === undefined || (tenant !== undefined && r.tenant !== tenant)) return false;
      if (r.revokedAt === undefined) {
        const revoked = { ...r, revokedAt: Date.now() };
        byId.set(keyId, revoked);
        byHash.set(r.hash, revoked);
      }
      return true;
    },
    async close() {},
  };
}
