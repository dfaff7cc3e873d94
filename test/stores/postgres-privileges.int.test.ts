// Every PostgreSQL-backed part (run store, budget ledger, audit store, key store) on a real server, as
// a role that owns its schema but may not create schemas in the database: the common production
// setup where a DBA creates the schema. All four migrate through one runner (runMigrations), which
// creates the schema only when it is missing (CREATE SCHEMA IF NOT EXISTS needs that privilege even
// when the schema exists: the run store and the audit store failed here with "permission denied").
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/governance/audit/store.ts';
import { openLedger } from '../../src/governance/budget/open.ts';
import { openKeyStore } from '../../src/server/keys/open.ts';
import { openStore } from '../../src/stores/open.ts';
import { pgSchemas } from '../support/pg-schemas.ts';

const { url, fresh, admin, dropAll } = pgSchemas('llmo_priv_t');
const role = `llmo_priv_${randomBytes(4).toString('hex')}`;

describe.skipIf(url === '')('PostgreSQL parts as a role without CREATE on the database', () => {
  afterAll(async () => {
    await dropAll();
    await admin((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  });

  it('open, migrate and write in a schema the role owns; the version tables are in that schema', async () => {
    const schema = fresh();
    await admin(async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await c.query(`CREATE SCHEMA "${schema}" AUTHORIZATION ${role}`);
    });
    const u = new URL(url);
    u.username = role;
    u.password = 'pw';
    u.searchParams.set('schema', schema);
    const at = u.toString();
    // the role may not create schemas here: what the old `CREATE SCHEMA IF NOT EXISTS` ran into
    const canCreate = await admin(async (c) => (await c.query<{ ok: boolean }>(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS ok`, [role])).rows[0]!.ok);
    expect(canCreate).toBe(false);

    const runs = await openStore(at);
    const ledger = await openLedger(at);
    const audit = await openAuditStore(at);
    const keys = await openKeyStore(at);
    try {
      await runs.createRun({ runId: 'r1', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 1_000 });
      expect((await runs.getRun('r1'))?.status).toBe('running');
      expect(await ledger.reserve({ id: 'x', lines: [{ key: 'k', amount: 1, limit: 10 }], expiresAt: Date.now() + 60_000, now: Date.now() })).toEqual({ ok: true });
      await audit.write([]);
      const created = await keys.create({ tenant: 'acme', roles: { '*': 'operator' } });
      expect((await keys.verify(created.secret))?.tenant).toBe('acme');
      const tables = await admin(async (c) => (await c.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE '%schema' ORDER BY 1`, [schema])).rows.map((r) => r.t));
      expect(tables).toEqual(['llmo_audit_schema', 'llmo_budget_schema', 'llmo_keys_schema', 'llmo_schema']);
    } finally {
      await keys.close();
      await audit.close();
      await ledger.close();
      await runs.close();
    }
  });
});
