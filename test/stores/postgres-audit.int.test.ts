// The audit store on a real PostgreSQL server (test/stores/global-setup.ts provides its URL): the
// shared conformance suite (incl. rows edited, deleted and swapped with SQL, named by verifyAudit),
// the table beside the run store in the same schema, and processes opening one schema at once.
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/governance/audit/log.ts';
import { openAuditStore } from '../../src/governance/audit/store.ts';
import { verifyAudit } from '../../src/governance/audit/verify.ts';
import { openStore } from '../../src/stores/open.ts';
import { pgSchemas } from '../support/pg-schemas.ts';
import { describeAuditStore, type AuditTamper } from './audit-conformance.ts';

const { url, fresh: freshSchema, at, admin, dropAll } = pgSchemas('llmo_audit_t');

function tamperOf(schema: string): AuditTamper {
  const t = `"${schema}".llmo_audit`;
  return {
    text: (stream, seq) => admin(async (c) => (await c.query<{ record: string }>(`SELECT record FROM ${t} WHERE stream = $1 AND seq = $2`, [stream, seq])).rows[0]!.record),
    setText: (stream, seq, text) => admin(async (c) => { await c.query(`UPDATE ${t} SET record = $3 WHERE stream = $1 AND seq = $2`, [stream, seq, text]); }),
    remove: (stream, seq) => admin(async (c) => { await c.query(`DELETE FROM ${t} WHERE stream = $1 AND seq = $2`, [stream, seq]); }),
  };
}

describe.skipIf(url === '')('PostgreSQL audit store', () => {
  afterAll(() => dropAll());

  describeAuditStore('PostgreSQL', {
    async fresh() {
      const schema = freshSchema();
      return { store: await openAuditStore(at(schema)), tamper: tamperOf(schema), reopen: () => openAuditStore(at(schema)) };
    },
  });

  it('lives beside the run store in its schema; stores opened at once migrate it once', async () => {
    const schema = freshSchema();
    const runs = await openStore(at(schema));
    const stores = await Promise.all([1, 2, 3, 4].map(() => openAuditStore(at(schema))));
    try {
      const versions = await admin(async (c) => (await c.query<{ version: number }>(`SELECT version FROM "${schema}".llmo_audit_schema`)).rows);
      expect(versions).toEqual([{ version: 1 }]);
      const log = createAuditLog({ sink: stores[0]! });
      await log.append({ actor: 'ops', action: 'admin.key.create', tenant: 'acme', details: { keyId: 'k-1' } });
      await log.flush();
      expect(verifyAudit(await stores[3]!.read())).toMatchObject({ ok: true, count: 1 });
      expect(await runs.listRuns()).toMatchObject({ runs: [] });
    } finally {
      for (const s of stores) await s.close();
      await runs.close();
    }
  });

  it('a newer audit table is refused (STORE_TOO_NEW); an unreachable server is STORE_UNAVAILABLE', async () => {
    const schema = freshSchema();
    await (await openAuditStore(at(schema))).close();
    await admin((c) => c.query(`INSERT INTO "${schema}".llmo_audit_schema (version, applied_at) VALUES (99, 0)`));
    await expect(openAuditStore(at(schema))).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });
    await expect(openAuditStore('postgres://llmo:llmo@127.0.0.1:1/llmo')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});
