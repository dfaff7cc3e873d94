// The PostgreSQL key store against a real server (test/stores/global-setup.ts provides its URL, from
// LLMO_PG_URL, a container or scripts/pg-local.sh; the suite skips when none could be had outside CI):
// the shared key-store behaviour, two stores opening a fresh schema at once (one migrates, under the lock)
// and the second seeing the first's revocation at its next verify, openKeyStore's ?schema=, an unreachable server.
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { describeKeyStore } from '../../../test/server/key-store-conformance.ts';
import { openKeyStore } from './open.ts';
import { createPostgresKeyStore } from './postgres.ts';

const url = inject('pgUrl');
const base = `llmo_keys_t${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let n = 0;
const schemas = new Set<string>();
const fresh = (): string => {
  const s = `${base}_${n++}`;
  schemas.add(s);
  return s;
};

afterAll(async () => {
  if (url === '' || schemas.size === 0) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await c.end();
  }
});

describe.skipIf(url === '')('PostgreSQL key store', () => {
  describeKeyStore('PostgreSQL', () => createPostgresKeyStore({ url, schema: fresh() }));

  it('a revocation through one pool stops the key at the next verify on another', async () => {
    const schema = fresh();
    const [a, b] = await Promise.all([createPostgresKeyStore({ url, schema }), createPostgresKeyStore({ url, schema })]);
    const k = await a.create({ tenant: 'acme', roles: { '*': 'operator' } });
    expect(await b.verify(k.secret)).toMatchObject({ keyId: k.keyId });
    expect(await a.revoke(k.keyId, 'acme')).toBe(true);
    expect(await b.verify(k.secret)).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('opens from a URL with ?schema= and redacts the password in its location', async () => {
    const schema = fresh();
    const keys = await openKeyStore(`${url}${url.includes('?') ? '&' : '?'}schema=${schema}`);
    const k = await keys.create({ tenant: 't', roles: { rag: 'viewer' } });
    expect(await keys.verify(k.secret)).toMatchObject({ tenant: 't' });
    expect(keys.location).not.toMatch(/:[^:@/*]+@/);
    await keys.close();
  });

  it('reports a server it cannot reach as KEY_STORE_FAILED', async () => {
    await expect(createPostgresKeyStore({ url: 'postgres://llmo:secret@127.0.0.1:1/llmo' })).rejects.toMatchObject({ code: 'KEY_STORE_FAILED', message: expect.not.stringContaining('secret') });
  });
});
