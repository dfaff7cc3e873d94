import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isOrchestratorError, isValidationError } from '../../errors.ts';
import { createPostgresAuditStore } from '../../governance/audit/store-postgres.ts';
import { createPostgresLedger } from '../../governance/budget/postgres.ts';
import { createPostgresKeyStore } from '../../server/keys/postgres.ts';

// A server that accepts connections and never answers (a hung PostgreSQL, a proxy whose upstream is gone).
let server: net.Server;
let url: string;
const sockets = new Set<net.Socket>();
beforeAll(async () => {
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `postgres://u:secret@127.0.0.1:${(server.address() as net.AddressInfo).port}/db`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((r) => server.close(r));
});

/** Opens with fake timers, moves time past `ms`, and returns what the open settled with. */
async function openedAfter(ms: number, open: () => Promise<unknown>): Promise<unknown> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    let settled: { error?: unknown; value?: unknown } | undefined;
    open().then((value) => (settled = { value }), (error: unknown) => (settled = { error }));
    for (let t = 0; t < ms + 1_000 && settled === undefined; t += 100) await vi.advanceTimersByTimeAsync(100);
    return settled?.error ?? (settled === undefined ? 'still pending' : 'opened');
  } finally {
    vi.useRealTimers();
  }
}

describe('PostgreSQL pools: a server that never answers fails the open after the connect timeout (default 5 s), never stalls it', () => {
  it('the budget ledger: POLICY_FAILED, retriable, naming the timeout', async () => {
    const e = await openedAfter(5_000, () => createPostgresLedger({ url }));
    expect(isOrchestratorError(e) && { code: e.code, retriable: e.retriable }).toEqual({ code: 'POLICY_FAILED', retriable: true });
    expect((e as Error).message).toMatch(/timeout/);
  });

  it('the key store: KEY_STORE_FAILED, the password hidden; connectTimeoutMs shortens it', async () => {
    const e = await openedAfter(200, () => createPostgresKeyStore({ url, connectTimeoutMs: 200 }));
    expect(isOrchestratorError(e) && e.code).toBe('KEY_STORE_FAILED');
    expect((e as Error).message).toMatch(/timeout/);
    expect((e as Error).message).not.toContain('secret');
  });

  it('the audit store: STORE_UNAVAILABLE', async () => {
    const e = await openedAfter(5_000, () => createPostgresAuditStore({ url }));
    expect(isOrchestratorError(e) && e.code).toBe('STORE_UNAVAILABLE');
  });

  it('bad options name the field', async () => {
    const paths = async (f: () => Promise<unknown>): Promise<unknown> => f().then(() => 'opened', (e: unknown) => (isValidationError(e) ? e.issues.map((i) => i.path.join('.')) : e));
    expect(await paths(() => createPostgresLedger({ url, connectTimeoutMs: 0 }))).toEqual(['options.connectTimeoutMs']);
    expect(await paths(() => createPostgresKeyStore({ url, connectTimeoutMs: -1 }))).toEqual(['options.connectTimeoutMs']);
    expect(await paths(() => createPostgresKeyStore({ url, schema: 'a;b' }))).toEqual(['options.schema']);
  });
});
