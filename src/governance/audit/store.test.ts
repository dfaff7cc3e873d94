// The audit store on SQLite temp files (the shared conformance suite), the file shared with the
// run store in either order, refusals (another application's file, a newer table, a bad URL),
// and memory:.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../stores/open.ts';
import { describeAuditStore, type AuditTamper } from '../../../test/stores/audit-conformance.ts';
import { createAuditLog } from './log.ts';
import { openAuditStore } from './store.ts';
import { verifyAudit } from './verify.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'llmo-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => path.join(dir, `audit-${n++}.db`);

function tamperOf(file: string): AuditTamper {
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(file);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    text: async (stream, seq) => withDb((db) => db.prepare('SELECT record FROM llmo_audit WHERE stream = ? AND seq = ?').pluck().get(stream, seq) as string),
    setText: async (stream, seq, text) => { withDb((db) => db.prepare('UPDATE llmo_audit SET record = ? WHERE stream = ? AND seq = ?').run(text, stream, seq)); },
    remove: async (stream, seq) => { withDb((db) => db.prepare('DELETE FROM llmo_audit WHERE stream = ? AND seq = ?').run(stream, seq)); },
  };
}

describeAuditStore('SQLite', {
  async fresh() {
    const file = freshPath();
    return { store: await openAuditStore(file), tamper: tamperOf(file), reopen: () => openAuditStore(`sqlite:${file}`) };
  },
});

describe('openAuditStore', () => {
  it('shares the run store\'s file, opened before or after it', async () => {
    for (const auditFirst of [true, false]) {
      const file = freshPath();
      const first = auditFirst ? await openAuditStore(file) : await openStore(file);
      const second = auditFirst ? await openStore(`file:${file}`) : await openAuditStore(`file:${file}`);
      const [audit, runs] = (auditFirst ? [first, second] : [second, first]) as [Awaited<ReturnType<typeof openAuditStore>>, Awaited<ReturnType<typeof openStore>>];
      const log = createAuditLog({ sink: audit });
      await log.append({ actor: 'ops', action: 'admin.test' });
      await log.flush();
      expect(await runs.listRuns()).toMatchObject({ runs: [] });
      await audit.close();
      await runs.close();
      const reopened = await openAuditStore(file);
      expect(verifyAudit(await reopened.read())).toMatchObject({ ok: true, count: 1 });
      await reopened.close();
    }
  });

  it('refuses another application\'s database, a newer audit table and an unknown URL', async () => {
    const foreign = freshPath();
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (x TEXT)');
    db.close();
    await expect(openAuditStore(foreign)).rejects.toMatchObject({ code: 'STORE_CORRUPT' });

    const newer = freshPath();
    (await openAuditStore(newer)).close();
    const db2 = new Database(newer);
    db2.prepare('INSERT INTO llmo_audit_schema (version) VALUES (99)').run();
    db2.close();
    await expect(openAuditStore(newer)).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });

    await expect(openAuditStore('redis://x')).rejects.toMatchObject({ code: 'STORE_INVALID' });
    await expect(openAuditStore('')).rejects.toMatchObject({ code: 'STORE_INVALID' });
    await expect(openAuditStore(freshPath(), { busyTimeoutMs: -1 })).rejects.toMatchObject({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['options', 'busyTimeoutMs'] })] });
  });

  it('memory: keeps records in this process, readable and resumable', async () => {
    const store = await openAuditStore('memory:');
    const log = createAuditLog({ sink: store });
    await log.append({ actor: 'ops', action: 'admin.test', tenant: 'b' });
    await log.append({ actor: 'ops', action: 'admin.test', tenant: 'a' });
    await log.flush();
    expect(((await store.read()) as { stream: string }[]).map((r) => r.stream)).toEqual(['a', 'b']);
    expect({ ...(await store.heads()) }).toEqual({ ...log.heads() });
  });
});
