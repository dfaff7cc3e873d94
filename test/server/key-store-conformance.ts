// The behaviour every KeyStore shares (memory, JSON file, SQLite, PostgreSQL): created keys verify
// to their principal, unknown and revoked ones do not, secrets are never listed, revocation is
// tenant-scoped, invalid keys are refused naming the field.
import { describe, expect, it } from 'vitest';
import type { KeyStore } from '../../src/server/access.ts';

export function describeKeyStore(name: string, open: () => Promise<KeyStore>): void {
  describe(`${name} key store`, () => {
    it('verifies a created key to its principal, and not an unknown secret', async () => {
      const keys = await open();
      try {
        const k = await keys.create({ tenant: 'acme', roles: { '*': 'viewer', rag: 'operator' }, name: 'ci' });
        expect(k.secret).toMatch(/^llmo_[A-Za-z0-9_-]{43}$/);
        expect(await keys.verify(k.secret)).toEqual({ keyId: k.keyId, tenant: 'acme', roles: { '*': 'viewer', rag: 'operator' }, name: 'ci' });
        expect(await keys.verify(`${k.secret}x`)).toBeUndefined();
        expect(await keys.verify('')).toBeUndefined();
      } finally {
        await keys.close();
      }
    });

    it('lists keys without secrets or hashes, by tenant', async () => {
      const keys = await open();
      try {
        const a = await keys.create({ tenant: 'acme', roles: { '*': 'admin' } });
        const b = await keys.create({ tenant: 'globex', roles: { '*': 'viewer' } });
        const acme = await keys.list('acme');
        expect(acme.map((k) => k.keyId)).toContain(a.keyId);
        expect(acme.map((k) => k.keyId)).not.toContain(b.keyId);
        const all = await keys.list();
        expect(all.map((k) => k.keyId)).toEqual(expect.arrayContaining([a.keyId, b.keyId]));
        for (const k of all) {
          expect(k).not.toHaveProperty('secret');
          expect(k).not.toHaveProperty('hash');
          expect(JSON.stringify(k)).not.toContain(a.secret);
          expect(typeof k.createdAt).toBe('number');
        }
      } finally {
        await keys.close();
      }
    });

    it('revokes a key at once, only within the tenant given', async () => {
      const keys = await open();
      try {
        const k = await keys.create({ tenant: 'acme', roles: { '*': 'operator' } });
        expect(await keys.revoke(k.keyId, 'globex')).toBe(false);
        expect(await keys.verify(k.secret)).toBeDefined();
        expect(await keys.revoke(k.keyId, 'acme')).toBe(true);
        expect(await keys.verify(k.secret)).toBeUndefined();
        expect(await keys.revoke(k.keyId)).toBe(true);
        expect(await keys.revoke('k_missing')).toBe(false);
        const listed = (await keys.list('acme')).find((x) => x.keyId === k.keyId);
        expect(listed?.revokedAt).toEqual(expect.any(Number));
      } finally {
        await keys.close();
      }
    });

    it('refuses an invalid key naming the field', async () => {
      const keys = await open();
      try {
        await expect(keys.create({ tenant: '', roles: { '*': 'viewer' } })).rejects.toMatchObject({ code: 'KEY_INVALID', issues: [expect.objectContaining({ path: ['tenant'] })] });
        await expect(keys.create({ tenant: 'acme', roles: {} })).rejects.toMatchObject({ code: 'KEY_INVALID', issues: [expect.objectContaining({ path: ['roles'] })] });
        await expect(keys.create({ tenant: 'acme', roles: { '*': 'root' as 'admin' } })).rejects.toMatchObject({ code: 'KEY_INVALID', issues: [expect.objectContaining({ path: ['roles', '*'] })] });
      } finally {
        await keys.close();
      }
    });
  });
}
