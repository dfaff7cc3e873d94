// The PostgreSQL run store in front of a server that stops answering (a paused or frozen server, a
// dead network path that sends no reset): a real server behind a TCP proxy that can stop passing
// bytes. Without a limit, every write waited forever and durable runs stalled with no signal; with
// `answerTimeoutMs` the connection is closed, the work is retried on new connections for `retryMs`,
// then fails as STORE_UNAVAILABLE; once the server answers again, the store works on fresh connections.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { isOrchestratorError, isStoreError } from '../../src/errors.ts';
import { createPostgresLedger } from '../../src/governance/budget/postgres.ts';
import { createPostgresKeyStore } from '../../src/server/keys/postgres.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { pgSchemas } from '../support/pg-schemas.ts';

const { url, fresh, dropAll } = pgSchemas('llmo_frozen_t');

/** A TCP proxy to `target` that passes bytes until frozen (then holds every connection, old and new, silent). */
async function freezableProxy(target: URL): Promise<{ port: number; freeze(): void; thaw(): void; close(): Promise<void> }> {
  let frozen = false;
  const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  const server = net.createServer((a) => {
    const b = net.connect(Number(target.port || 5432), target.hostname);
    const pair = { a, b };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
    a.on('data', (d) => { if (!frozen) b.write(d); });
    b.on('data', (d) => { if (!frozen) a.write(d); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => { frozen = true; },
    thaw: () => { frozen = false; },
    async close() {
      for (const { a, b } of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}

const codeOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (e: unknown) => (isStoreError(e) ? `${e.code}: ${e.message}` : e));

describe.skipIf(url === '')('PostgreSQL store: a server that stops answering', () => {
  afterAll(() => dropAll());

  it('writes and reads fail as STORE_UNAVAILABLE after answerTimeoutMs and retryMs instead of waiting forever; the store works again once the server answers', async () => {
    const target = new URL(url);
    const proxy = await freezableProxy(target);
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    const store = await createPostgresStore({ url: through.toString(), schema: fresh(), answerTimeoutMs: 300, retryMs: 400, connectTimeoutMs: 200 });
    try {
      await store.createRun({ runId: 'r1', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 60_000 });
      proxy.freeze();
      const write = await codeOf(store.createRun({ runId: 'r2', topology: 't', version: 'v', input: 2, createdAt: 2, owner: 'o', leaseMs: 60_000 }));
      expect(write).toMatch(/^STORE_UNAVAILABLE: .*(did not answer|timeout)/);
      expect(await codeOf(store.getRun('r1'))).toMatch(/^STORE_UNAVAILABLE/);
      proxy.thaw();
      // nothing of r2 reached the server while frozen: writing it again succeeds, on a fresh connection
      await store.createRun({ runId: 'r2', topology: 't', version: 'v', input: 2, createdAt: 2, owner: 'o', leaseMs: 60_000 });
      expect((await store.getRun('r2'))?.status).toBe('running');
      expect((await store.listRuns()).runs.map((r) => r.runId).sort()).toEqual(['r1', 'r2']);
    } finally {
      proxy.thaw();
      await store.close();
      await proxy.close();
    }
  });

  it('the budget ledger and the key store: a statement the server does not answer within queryTimeoutMs fails, retriable; they work again once it answers', async () => {
    const proxy = await freezableProxy(new URL(url));
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    const schema = fresh();
    const ledger = await createPostgresLedger({ url: through.toString(), schema, queryTimeoutMs: 300, connectTimeoutMs: 200, retries: 0 });
    const keys = await createPostgresKeyStore({ url: through.toString(), schema, queryTimeoutMs: 300, connectTimeoutMs: 200 });
    const hold = (id: string) => ledger.reserve({ id, lines: [{ key: 'k', amount: 1, limit: 10 }], expiresAt: Date.now() + 60_000, now: Date.now() });
    const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (e: unknown) => (isOrchestratorError(e) ? { code: e.code, retriable: e.retriable } : e));
    try {
      expect(await hold('a')).toEqual({ ok: true });
      const created = await keys.create({ tenant: 'acme', roles: { '*': 'viewer' } });
      proxy.freeze();
      expect(await failure(hold('b'))).toEqual({ code: 'POLICY_FAILED', retriable: true });
      expect(await failure(keys.verify(created.secret))).toEqual({ code: 'KEY_STORE_FAILED', retriable: true });
      proxy.thaw();
      expect(await hold('c')).toEqual({ ok: true });
      expect((await keys.verify(created.secret))?.tenant).toBe('acme');
    } finally {
      proxy.thaw();
      await keys.close();
      await ledger.close();
      await proxy.close();
    }
  });

  it('answerTimeoutMs is validated (a negative value names the field)', async () => {
    await expect(createPostgresStore({ url, answerTimeoutMs: -1 })).rejects.toMatchObject({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['options', 'answerTimeoutMs'] })] });
  });
});
