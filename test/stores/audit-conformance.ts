// What every audit store (openAuditStore: SQLite, PostgreSQL) must do, as one suite: records
// stored and read back in chain order, heads a new writer continues, a second writer on a chain
// refused, and tampering done with SQL (a row edited, deleted, two swapped) named by verifyAudit.
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/governance/audit/log.ts';
import type { AuditStore } from '../../src/governance/audit/store.ts';
import { verifyAudit, type AuditProblem } from '../../src/governance/audit/verify.ts';

/** Raw SQL on the store's table, for tampering. */
export interface AuditTamper {
  text(stream: string, seq: number): Promise<string>;
  setText(stream: string, seq: number, text: string): Promise<void>;
  remove(stream: string, seq: number): Promise<void>;
}

export interface AuditStoreHarness {
  /** A fresh, empty store (a new location each call), with its tamper access. */
  fresh(): Promise<{ store: AuditStore; tamper: AuditTamper; reopen(): Promise<AuditStore> }>;
}

async function fill(store: AuditStore, tenants: readonly (string | undefined)[]): Promise<void> {
  const log = createAuditLog({ sink: store, heads: await store.heads(), clock: () => 1_000 });
  let k = 0;
  for (const tenant of tenants) {
    await log.append({ actor: `user-${k}`, action: 'admin.test', ...(tenant === undefined ? {} : { tenant }), details: { k: k++ } });
  }
  await log.flush();
}

const problems = (records: readonly unknown[]): AuditProblem[] => {
  const v = verifyAudit(records);
  return v.ok ? [] : [...v.problems];
};

export function describeAuditStore(name: string, harness: AuditStoreHarness): void {
  describe(`audit store conformance: ${name}`, () => {
    it('stores records, reads them back by stream and seq; they verify and heads match the writer\'s', async () => {
      const { store } = await harness.fresh();
      try {
        const log = createAuditLog({ sink: store, clock: () => 5 });
        for (const tenant of ['acme', undefined, 'acme', 'globex', undefined, 'acme']) await log.append({ actor: 'ops', action: 'admin.test', ...(tenant === undefined ? {} : { tenant }) });
        await log.flush();
        const read = (await store.read()) as { stream: string; seq: number }[];
        expect(read.map((r) => `${r.stream}/${r.seq}`)).toEqual(['acme/0', 'acme/1', 'acme/2', 'global/0', 'global/1', 'globex/0']);
        expect(verifyAudit(read)).toMatchObject({ ok: true, count: 6, streams: 3 });
        expect({ ...(await store.heads()) }).toEqual({ ...log.heads() });
        expect(((await store.read('globex')) as { seq: number }[]).map((r) => r.seq)).toEqual([0]);
      } finally {
        await store.close();
      }
    });

    it('a writer reopening the store continues each chain from heads(); a second writer on a chain is refused', async () => {
      const { store, reopen } = await harness.fresh();
      await fill(store, ['acme', undefined, 'acme']);
      await store.close();
      const again = await reopen();
      try {
        await fill(again, ['acme', undefined]);
        const read = (await again.read()) as { stream: string; seq: number }[];
        expect(read.map((r) => `${r.stream}/${r.seq}`)).toEqual(['acme/0', 'acme/1', 'acme/2', 'global/0', 'global/1']);
        expect(verifyAudit(read).ok).toBe(true);
        // a writer that did not resume starts acme at seq 0 again: the table refuses it, nothing is overwritten
        const stale = createAuditLog({ sink: again });
        await expect(stale.append({ actor: 'x', action: 'admin.test', tenant: 'acme' })).rejects.toMatchObject({ code: 'AUDIT_SINK_FAILED', cause: expect.objectContaining({ code: 'AUDIT_STORE_FAILED', retriable: false }) });
        expect(stale.health()).toMatchObject({ status: 'down', failed: 1 });
        expect(verifyAudit(await again.read())).toMatchObject({ ok: true, count: 5 });
      } finally {
        await again.close();
      }
    });

    it('tampering with SQL is named: an edited row modified, a deleted row missing, two swapped rows reordered', async () => {
      const { store, tamper } = await harness.fresh();
      try {
        await fill(store, [undefined, undefined, undefined, undefined, undefined, undefined]);
        expect(problems(await store.read())).toEqual([]);

        const three = await tamper.text('global', 3);
        await tamper.setText('global', 3, three.replace('"actor":"user-3"', '"actor":"user-4"'));
        expect(problems(await store.read())).toEqual([expect.objectContaining({ kind: 'modified', stream: 'global', seq: 3, index: 3 })]);
        await tamper.setText('global', 3, three);
        expect(problems(await store.read())).toEqual([]);

        const [one, four] = [await tamper.text('global', 1), await tamper.text('global', 4)];
        await tamper.setText('global', 1, four);
        await tamper.setText('global', 4, one);
        expect(problems(await store.read())).toEqual([expect.objectContaining({ kind: 'reordered', stream: 'global', seq: 1, index: 1 })]);
        await tamper.setText('global', 1, one);
        await tamper.setText('global', 4, four);

        await tamper.remove('global', 2);
        expect(problems(await store.read())).toEqual([expect.objectContaining({ kind: 'missing', stream: 'global', seq: 2, index: 2 })]);

        await tamper.setText('global', 5, '{"stream":"glo');
        expect(problems(await store.read()).map((p) => p.kind)).toEqual(['missing', 'modified']);
      } finally {
        await store.close();
      }
    });

    it('writes after close reject with STORE_CLOSED', async () => {
      const { store } = await harness.fresh();
      await store.close();
      await expect(store.read()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
      await expect(store.write([])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });
  });
}
