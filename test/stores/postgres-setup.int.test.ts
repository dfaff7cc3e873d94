// How every PostgreSQL-backed part sets up a new connection (createPgPool), and when the run store opens its own.
// `SET jit = off` runs
// before the connection is handed out. It used to be queued from the pool's 'connect' event, so the
// first query of every new connection was sent while the SET was still running: pg prints a
// DeprecationWarning for that ("Calling client.query() when the client is already executing a
// query", gone in pg 9) on the stderr of every process using a store, and pg 9 refuses it.
import { afterAll, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/governance/audit/store.ts';
import { openLedger } from '../../src/governance/budget/open.ts';
import { openKeyStore } from '../../src/server/keys/open.ts';
import { openStore } from '../../src/stores/open.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { pgSchemas } from '../support/pg-schemas.ts';

const { url, fresh, dropAll, admin } = pgSchemas('llmo_setup_t');

describe.skipIf(url === '')('new PostgreSQL connections', () => {
  afterAll(dropAll);

  it('are set up before their first query: no query is sent on a connection while another runs there', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const u = new URL(url);
    u.searchParams.set('schema', fresh());
    const at = u.toString();
    const runs = await openStore(at);
    const ledger = await openLedger(at);
    const audit = await openAuditStore(at);
    const keys = await openKeyStore(at);
    try {
      // many at once: each pool opens several new connections
      await Promise.all(Array.from({ length: 12 }, (_, i) =>
        runs.createRun({ runId: `r${i}`, topology: 't', version: 'v', input: i, createdAt: i, owner: 'o', leaseMs: 1_000 })));
      const reads = await Promise.all(Array.from({ length: 12 }, (_, i) => runs.getRun(`r${i}`)));
      expect(reads.map((r) => r?.status)).toEqual(Array.from({ length: 12 }, () => 'running'));
      await Promise.all(Array.from({ length: 6 }, (_, i) =>
        ledger.reserve({ id: `x${i}`, lines: [{ key: `k${i}`, amount: 1, limit: 10 }], expiresAt: Date.now() + 60_000, now: Date.now() })));
      await Promise.all([audit.write([]), audit.write([])]);
      const created = await Promise.all([keys.create({ tenant: 'a', roles: { '*': 'operator' } }), keys.create({ tenant: 'b', roles: { '*': 'operator' } })]);
      expect((await keys.verify(created[1].secret))?.tenant).toBe('b');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => w.message)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await keys.close();
      await audit.close();
      await ledger.close();
      await runs.close();
    }
  });

  it('the run store opens its commit connections when it opens, so the first wave of runs does not wait on connects', async () => {
    // Its own application_name (the URL's wins over the pool's), so only this store's sessions are counted.
    const app = `llmo_warm_${process.pid}`;
    const u = new URL(url);
    u.searchParams.set('application_name', app);
    const sessions = (): Promise<number> =>
      admin(async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]?.n));
    const store = await createPostgresStore({ url: u.toString(), schema: fresh(), commitsInFlight: 2 });
    try {
      expect(await sessions()).toBe(2);
      await store.createRun({ runId: 'w1', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 1_000 });
      expect(await sessions()).toBe(2); // the commit took one of them
    } finally {
      await store.close();
    }
    expect(await sessions()).toBe(0);
  });
});
