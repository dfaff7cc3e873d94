/**
 * The run store conformance suite: the behaviour every {@link RunStore} must have,
 * whatever keeps the data. Each store's test file calls `describeRunStore` once.
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreError, type StoreErrorCode } from '../../src/errors.ts';
import type { NewRun, RunStore, StoredEvent } from '../../src/runtime/store.ts';

/**
 * More of what {@link describeRunStore} may check.
 *
 * @example
 * ```ts
 * const more: ConformanceOptions = { reopen: async (s) => createSqliteStore({ path: s.location }) };
 * ```
 */
export interface ConformanceOptions {
  /** A new store on the same data as a closed one (durable stores), to check what `close` committed. */
  readonly reopen?: (closed: RunStore) => Promise<RunStore>;
}

/**
 * Registers the conformance suite for one store. `open` gives a new, empty store for each test;
 * `cleanup` runs after it was closed.
 *
 * @example
 * ```ts
 * describeRunStore('memory', async () => createMemoryStore());
 * ```
 */
export function describeRunStore(
  name: string,
  open: () => Promise<RunStore>,
  cleanup?: (store: RunStore) => Promise<void>,
  more: ConformanceOptions = {},
): void {
  describe(`RunStore conformance: ${name}`, () => {
    let store: RunStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.(store);
    });

    const T0 = 1_700_000_000_000;
    const run = (runId: string, over: Partial<NewRun> = {}): NewRun => ({
      runId, topology: 'rag', version: 'v1:abc', input: { q: runId }, createdAt: T0, owner: 'p1', leaseMs: 1000, ...over,
    });
    const ev = (runId: string, seq: number, type: string, extra: Record<string, unknown> = {}): StoredEvent => ({
      runId, seq, ts: T0 + seq, type, ...extra,
    });
    const codeOf = async (p: Promise<unknown>): Promise<StoreErrorCode | 'resolved' | 'not a StoreError'> => {
      try {
        await p;
        return 'resolved';
      } catch (e) {
        return isStoreError(e) ? e.code : 'not a StoreError';
      }
    };
    /** A run with `n` events appended (run.started then node events). */
    const started = async (runId: string, over: Partial<NewRun> = {}, n = 1): Promise<void> => {
      await store.createRun(run(runId, over));
      const events = [ev(runId, 0, 'run.started', { priority: 'normal' })];
      for (let i = 1; i < n; i++) events.push(ev(runId, i, 'node.completed', { nodeId: `n${i}`, output: i }));
      await store.append(events);
    };

    it('createRun keeps the run (running, leased to its creator, no events); a taken id is RUN_EXISTS', async () => {
      await store.createRun(run('r1', { tenant: 'acme', forkOf: { runId: 'r0', nodeId: 'draft' } }));
      expect(await store.getRun('r1')).toEqual({
        runId: 'r1', topology: 'rag', version: 'v1:abc', status: 'running', input: { q: 'r1' }, tenant: 'acme',
        forkOf: { runId: 'r0', nodeId: 'draft' }, createdAt: T0, updatedAt: T0, lastSeq: -1, leaseOwner: 'p1', leaseUntil: T0 + 1000,
      });
      expect(await codeOf(store.createRun(run('r1')))).toBe('RUN_EXISTS');
      expect(await store.getRun('nope')).toBeUndefined();
      expect(store.kind).toBe(name);
      expect(typeof store.location).toBe('string');
    });

    it('append keeps events in seq order with their fields; history returns them', async () => {
      await store.createRun(run('r1'));
      await store.append([ev('r1', 0, 'run.started', { priority: 'normal' }), ev('r1', 1, 'node.started', { nodeId: 'a' })]);
      await store.append([ev('r1', 2, 'node.completed', { nodeId: 'a', output: { text: 'hi' } })]);
      expect(await store.history('r1')).toEqual([
        { runId: 'r1', seq: 0, ts: T0, type: 'run.started', priority: 'normal' },
        { runId: 'r1', seq: 1, ts: T0 + 1, type: 'node.started', nodeId: 'a' },
        { runId: 'r1', seq: 2, ts: T0 + 2, type: 'node.completed', nodeId: 'a', output: { text: 'hi' } },
      ]);
      const r = await store.getRun('r1');
      expect(r?.lastSeq).toBe(2);
      expect(r?.updatedAt).toBe(T0 + 2);
      expect(r?.status).toBe('running');
    });

    it('one append may name many runs; writes made in one tick all settle', async () => {
      await Promise.all(['a', 'b', 'c'].map((id) => store.createRun(run(id))));
      await store.append([ev('a', 0, 'run.started'), ev('b', 0, 'run.started'), ev('a', 1, 'node.started', { nodeId: 'x' })]);
      await Promise.all([store.append([ev('c', 0, 'run.started')]), store.append([ev('b', 1, 'node.started', { nodeId: 'y' })])]);
      expect((await store.history('a')).map((e) => e.seq)).toEqual([0, 1]);
      expect((await store.history('b')).map((e) => e.seq)).toEqual([0, 1]);
      expect((await store.history('c')).map((e) => e.seq)).toEqual([0]);
      // one run appended twice in a tick, and again within a write naming other runs: in order
      await Promise.all([
        store.append([ev('a', 2, 'node.completed', { nodeId: 'x' })]),
        store.append([ev('a', 3, 'node.started', { nodeId: 'y' }), ev('b', 2, 'node.completed', { nodeId: 'y' })]),
        store.append([ev('a', 4, 'node.completed', { nodeId: 'y' })]),
      ]);
      expect((await store.history('a')).map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
      expect((await store.history('b')).map((e) => e.seq)).toEqual([0, 1, 2]);
      expect((await store.getRun('a'))?.lastSeq).toBe(4);
    });

    it('createRun with its first events stores both in one commit; a taken id or a bad event stores neither', async () => {
      const first = [ev('c1', 0, 'run.started'), ev('c1', 1, 'node.started', { nodeId: 'a' }), ev('c1', 2, 'node.completed', { nodeId: 'a', output: 'x' })];
      await store.createRun({ ...run('c1'), events: first });
      expect(await store.history('c1')).toEqual(first);
      expect(await store.getRun('c1')).toMatchObject({ status: 'running', lastSeq: 2, updatedAt: T0 + 2, leaseOwner: 'p1' });
      await store.append([ev('c1', 3, 'run.completed', { output: 'x' })]);
      expect(await store.getRun('c1')).toMatchObject({ status: 'completed', output: 'x', lastSeq: 3 });
      // the id is taken: none of the second creation's events lands in the first run's log
      expect(await codeOf(store.createRun({ ...run('c1'), events: [ev('c1', 4, 'node.started', { nodeId: 'z' })] }))).toBe('RUN_EXISTS');
      expect((await store.history('c1')).length).toBe(4);
      // events that are not this run's, or do not start at seq 0: no row either
      expect(await codeOf(store.createRun({ ...run('c2'), events: [ev('other', 0, 'run.started')] }))).toBe('STORE_INVALID');
      expect(await codeOf(store.createRun({ ...run('c3'), events: [ev('c3', 1, 'run.started')] }))).toBe('SEQ_CONFLICT');
      expect(await store.getRun('c2')).toBeUndefined();
      expect(await store.getRun('c3')).toBeUndefined();
    });

    it('a taken seq or a gap is SEQ_CONFLICT; a rejected append writes nothing of the runs it names', async () => {
      await started('r1');
      await started('r2');
      expect(await codeOf(store.append([ev('r1', 0, 'node.started', { nodeId: 'a' })]))).toBe('SEQ_CONFLICT');
      expect(await codeOf(store.append([ev('r1', 5, 'node.started', { nodeId: 'a' })]))).toBe('SEQ_CONFLICT');
      expect(await codeOf(store.append([ev('r2', 1, 'node.started', { nodeId: 'a' }), ev('r1', 0, 'node.started', { nodeId: 'a' })]))).toBe('SEQ_CONFLICT');
      expect((await store.history('r1')).length).toBe(1);
      expect((await store.history('r2')).length).toBe(1);
      expect((await store.getRun('r2'))?.lastSeq).toBe(0);
    });

    it("one append's SEQ_CONFLICT does not fail other appends made in the same tick", async () => {
      await Promise.all(['a', 'b', 'c'].map((id) => started(id)));
      const results = await Promise.allSettled([
        store.append([ev('a', 1, 'node.started', { nodeId: 'x' })]),
        store.append([ev('b', 0, 'node.started', { nodeId: 'x' })]),
        store.append([ev('c', 1, 'node.started', { nodeId: 'x' })]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(isStoreError((results[1] as PromiseRejectedResult).reason) && (results[1] as PromiseRejectedResult).reason.code).toBe('SEQ_CONFLICT');
      expect((await store.getRun('a'))?.lastSeq).toBe(1);
      expect((await store.getRun('c'))?.lastSeq).toBe(1);
    });

    it('unknown runs: append and history are RUN_NOT_FOUND', async () => {
      expect(await codeOf(store.append([ev('ghost', 0, 'run.started')]))).toBe('RUN_NOT_FOUND');
      expect(await codeOf(store.history('ghost'))).toBe('RUN_NOT_FOUND');
    });

    it('malformed events are STORE_INVALID', async () => {
      await store.createRun(run('r1'));
      expect(await codeOf(store.append([{ runId: 'r1', seq: 0.5, ts: T0, type: 'x' }]))).toBe('STORE_INVALID');
      expect(await codeOf(store.append([{ runId: 'r1', seq: 0, ts: Number.NaN, type: 'x' }]))).toBe('STORE_INVALID');
    });

    it('status follows the events: waiting with its wait, signalled, recovered, completed with output and no lease', async () => {
      await started('r1');
      await store.append([ev('r1', 1, 'run.waiting', { nodeId: 'approve', name: 'approval', timeoutAt: T0 + 5000 })]);
      let r = await store.getRun('r1');
      expect(r?.status).toBe('waiting');
      expect(r?.wait).toEqual({ nodeId: 'approve', name: 'approval', timeoutAt: T0 + 5000 });
      await store.append([ev('r1', 2, 'run.signalled', { name: 'approval', payload: { ok: true } })]);
      expect((await store.getRun('r1'))?.status).toBe('waiting');
      await store.append([ev('r1', 3, 'run.recovered')]);
      r = await store.getRun('r1');
      expect(r?.status).toBe('running');
      expect(r?.wait).toBeUndefined();
      await store.append([ev('r1', 4, 'run.completed', { output: { answer: 42 } })]);
      r = await store.getRun('r1');
      expect(r?.status).toBe('completed');
      expect(r?.output).toEqual({ answer: 42 });
      expect(r?.leaseOwner).toBeUndefined();
      expect(r?.leaseUntil).toBeUndefined();
    });

    it('a wait without a timeout has no timeoutAt; failed and cancelled keep their error', async () => {
      await started('w');
      await store.append([ev('w', 1, 'run.waiting', { nodeId: 'n', name: 'go' })]);
      expect((await store.getRun('w'))?.wait).toEqual({ nodeId: 'n', name: 'go' });
      const error = { name: 'NodeError', code: 'NODE_FAILED', message: 'boom', retriable: false, nodeId: 'n' };
      await started('f');
      await store.append([ev('f', 1, 'run.failed', { error })]);
      await started('c');
      await store.append([ev('c', 1, 'run.cancelled', { error: { ...error, code: 'CANCELLED' } })]);
      const f = await store.getRun('f');
      expect(f?.status).toBe('failed');
      expect(f?.error).toEqual(error);
      expect(f?.leaseOwner).toBeUndefined();
      expect((await store.getRun('c'))?.status).toBe('cancelled');
      expect((await store.getRun('c'))?.error?.code).toBe('CANCELLED');
    });

    it('history windows: fromSeq, toSeq (inclusive) and untilTs', async () => {
      await started('r1', {}, 10);
      const seqs = async (range: Parameters<RunStore['history']>[1]): Promise<number[]> => (await store.history('r1', range)).map((e) => e.seq);
      expect(await seqs({ fromSeq: 3 })).toEqual([3, 4, 5, 6, 7, 8, 9]);
      expect(await seqs({ toSeq: 2 })).toEqual([0, 1, 2]);
      expect(await seqs({ fromSeq: 2, toSeq: 4 })).toEqual([2, 3, 4]);
      expect(await seqs({ untilTs: T0 + 5 })).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await seqs({ fromSeq: 4, untilTs: T0 + 5 })).toEqual([4, 5]);
      expect(await seqs({ fromSeq: 20 })).toEqual([]);
      // past a 32-bit integer (as an HTTP client may ask): "to the end", and nothing after it
      expect(await seqs({ fromSeq: 8, toSeq: 2 ** 40 })).toEqual([8, 9]);
      expect(await seqs({ fromSeq: Number.MAX_SAFE_INTEGER - 1 })).toEqual([]);
    });

    it('listRuns: newest first, filters by status, topology and tenant, pages with a cursor', async () => {
      for (let i = 0; i < 25; i++) {
        await store.createRun(run(`r${String(i).padStart(2, '0')}`, { createdAt: T0 + Math.floor(i / 2), topology: i % 2 ? 'odd' : 'even', tenant: i % 3 ? 't' : 'u' }));
      }
      await store.append([ev('r03', 0, 'run.completed', { output: 1 })]);
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listRuns(cursor === undefined ? { limit: 7 } : { limit: 7, cursor });
        expect(page.runs.length).toBeLessThanOrEqual(7);
        all.push(...page.runs.map((r) => r.runId));
        cursor = page.next;
      } while (cursor !== undefined);
      const expected = Array.from({ length: 25 }, (_, i) => `r${String(i).padStart(2, '0')}`).reverse();
      expect(all).toEqual(expected);
      expect((await store.listRuns()).runs.length).toBe(25);
      expect((await store.listRuns({ status: ['completed'] })).runs.map((r) => r.runId)).toEqual(['r03']);
      expect((await store.listRuns({ topology: 'odd', tenant: 'u' })).runs.map((r) => r.runId)).toEqual(['r21', 'r15', 'r09', 'r03']);
      const last = await store.listRuns({ limit: 25 });
      expect(last.next).toBeUndefined();
      expect(await codeOf(store.listRuns({ cursor: 'not-a-cursor' }))).toBe('STORE_INVALID');
      expect(await codeOf(store.listRuns({ limit: 0 }))).toBe('STORE_INVALID');
    });

    it('claim takes running runs whose lease expired or was released, never live or ended ones, and leases them', async () => {
      await started('live', { createdAt: T0, leaseMs: 10_000 });
      await started('expired', { createdAt: T0, leaseMs: 100 });
      await started('done');
      await store.append([ev('done', 1, 'run.completed', { output: 1 })]);
      await started('released', { leaseMs: 10_000 });
      await store.release('p1', ['released']);
      const got = await store.claim({ owner: 'p2', leaseMs: 500, limit: 10, now: T0 + 1000 });
      expect(got.map((r) => r.runId).sort()).toEqual(['expired', 'released']);
      for (const r of got) {
        expect(r.leaseOwner).toBe('p2');
        expect(r.leaseUntil).toBe(T0 + 1500);
      }
      expect((await store.getRun('expired'))?.leaseOwner).toBe('p2');
      expect(await store.claim({ owner: 'p3', leaseMs: 500, limit: 10, now: T0 + 1000 })).toEqual([]);
      const later = await store.claim({ owner: 'p3', leaseMs: 500, limit: 10, now: T0 + 20_000 });
      expect(later.map((r) => r.runId).sort()).toEqual(['expired', 'live', 'released']);
    });

    it('claim honours limit, topologies, runIds and isDead', async () => {
      for (let i = 0; i < 5; i++) await started(`a${i}`, { topology: 'a', leaseMs: 0 });
      await started('b0', { topology: 'b', leaseMs: 0 });
      await started('held', { topology: 'a', owner: 'dead-process', leaseMs: 60_000 });
      const now = T0 + 1;
      expect((await store.claim({ owner: 'p2', leaseMs: 1000, limit: 2, now, topologies: ['a'] })).length).toBe(2);
      expect((await store.claim({ owner: 'p2', leaseMs: 1000, limit: 10, now, runIds: ['b0', 'held'] })).map((r) => r.runId)).toEqual(['b0']);
      expect((await store.claim({ owner: 'p2', leaseMs: 1000, limit: 10, now, topologies: ['b'] }))).toEqual([]);
      const rest = await store.claim({ owner: 'p3', leaseMs: 1000, limit: 10, now, topologies: ['a'], isDead: (o) => o === 'dead-process' });
      expect(rest.map((r) => r.runId).sort()).toEqual(['a2', 'a3', 'a4', 'held']);
    });

    it('wakeable: waiting runs are taken once their timeout passed or a signal came after they parked', async () => {
      for (const id of ['timed', 'signalled', 'parked', 'resignalled']) await started(id);
      await store.append([
        ev('timed', 1, 'run.waiting', { nodeId: 'n', name: 'go', timeoutAt: T0 + 100 }),
        ev('signalled', 1, 'run.waiting', { nodeId: 'n', name: 'go' }),
        ev('signalled', 2, 'run.signalled', { name: 'go', payload: 1 }),
        ev('parked', 1, 'run.waiting', { nodeId: 'n', name: 'go', timeoutAt: T0 + 1_000_000 }),
        // a signal before the last park does not count
        ev('resignalled', 1, 'run.waiting', { nodeId: 'n', name: 'go' }),
        ev('resignalled', 2, 'run.signalled', { name: 'go' }),
        ev('resignalled', 3, 'run.recovered'),
        ev('resignalled', 4, 'run.waiting', { nodeId: 'm', name: 'again' }),
      ]);
      await store.release('p1', ['timed', 'signalled', 'parked', 'resignalled']);
      const now = T0 + 200;
      expect(await store.claim({ owner: 'p2', leaseMs: 1000, limit: 10, now })).toEqual([]);
      const woken = await store.claim({ owner: 'p2', leaseMs: 1000, limit: 10, now, wakeable: true });
      expect(woken.map((r) => r.runId).sort()).toEqual(['signalled', 'timed']);
      expect(woken.every((r) => r.status === 'waiting')).toBe(true);
    });

    it('concurrent claims never return the same run', async () => {
      for (let i = 0; i < 60; i++) await store.createRun(run(`c${i}`, { leaseMs: 0 }));
      const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claim({ owner: `claimer${i}`, leaseMs: 10_000, limit: 7, now: T0 + 1 })));
      const ids = claims.flat().map((r) => r.runId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(60);
      for (const [i, c] of claims.entries()) for (const r of c) expect((await store.getRun(r.runId))?.leaseOwner).toBe(`claimer${i}`);
    });

    it('renew extends only the leases the owner holds; release gives them up', async () => {
      await started('mine');
      await started('theirs', { owner: 'p9' });
      expect(await store.renew('p1', ['mine', 'theirs', 'ghost'], 5000, T0 + 10)).toEqual(['mine']);
      expect((await store.getRun('mine'))?.leaseUntil).toBe(T0 + 5010);
      await store.release('p1', ['mine', 'theirs']);
      expect((await store.getRun('mine'))?.leaseOwner).toBeUndefined();
      expect((await store.getRun('theirs'))?.leaseOwner).toBe('p9');
      expect(await store.renew('p1', ['mine'], 5000, T0 + 10)).toEqual([]);
    });

    it('requestCancel records a request for a running run only (a later one replaces it); cancelRequests reads them; retention drops them', async () => {
      await started('busy');
      await started('parked');
      await store.append([ev('parked', 1, 'run.waiting', { nodeId: 'w', name: 'go' })]);
      await started('over');
      await store.append([ev('over', 1, 'run.completed', { output: 1 })]);
      expect(await store.requestCancel!({ runId: 'busy', reason: 'runaway', at: T0 + 5 })).toBe(true);
      expect(await store.requestCancel!({ runId: 'parked', at: T0 + 5 })).toBe(false);
      expect(await store.requestCancel!({ runId: 'over', at: T0 + 5 })).toBe(false);
      expect(await store.requestCancel!({ runId: 'ghost', at: T0 + 5 })).toBe(false);
      expect(await store.cancelRequests!(['busy', 'parked', 'over', 'ghost'])).toEqual([{ runId: 'busy', reason: 'runaway', at: T0 + 5 }]);
      expect(await store.requestCancel!({ runId: 'busy', at: T0 + 9 })).toBe(true);
      expect(await store.cancelRequests!(['busy'])).toEqual([{ runId: 'busy', at: T0 + 9 }]);
      expect(await store.cancelRequests!([])).toEqual([]);
      expect(await codeOf(store.requestCancel!({ runId: '', at: T0 }))).toBe('STORE_INVALID');
      expect(await codeOf(store.requestCancel!({ runId: 'busy', at: Number.NaN }))).toBe('STORE_INVALID');
      // the run ends (its holder cancelled it); retention removes the request with the run
      await store.append([ev('busy', 1, 'run.cancelled', { error: { name: 'CancelledError', code: 'CANCELLED', message: 'run cancelled: runaway', retriable: false } })]);
      expect(await store.deleteRuns({ endedBefore: T0 + 10_000 })).toBe(2);
      await store.createRun(run('busy'));
      expect(await store.cancelRequests!(['busy'])).toEqual([]);
    });

    it('deleteRuns removes ended runs older than the cut-off, with their logs, and counts them', async () => {
      for (const id of ['old-done', 'old-failed', 'new-done', 'old-running']) await started(id);
      await store.append([ev('old-done', 1, 'run.completed', { output: 1 }), ev('old-failed', 1, 'run.failed', { error: { name: 'E', code: 'X', message: 'm', retriable: false } })]);
      await store.append([{ runId: 'new-done', seq: 1, ts: T0 + 10_000, type: 'run.completed', output: 2 }]);
      expect(await store.deleteRuns({ endedBefore: T0 + 5000, status: ['failed'] })).toBe(1);
      expect(await store.getRun('old-failed')).toBeUndefined();
      expect(await store.deleteRuns({ endedBefore: T0 + 5000 })).toBe(1);
      expect(await store.getRun('old-done')).toBeUndefined();
      expect(await codeOf(store.history('old-done'))).toBe('RUN_NOT_FOUND');
      expect((await store.getRun('new-done'))?.status).toBe('completed');
      expect((await store.getRun('old-running'))?.status).toBe('running');
      await store.createRun(run('old-done')); // the id is free again, with an empty log
      expect(await store.history('old-done')).toEqual([]);
    });

    it('values round-trip as JSON: nested objects, unicode, a ~1 MB string', async () => {
      const big = 'é✓🚀'.repeat(90_000) + 'x'.repeat(500_000);
      const nested = { a: [1, 2.5, { b: null, c: ['ü', '日本語', '\u0000nul'] }], t: true, e: {}, d: new Date(T0) };
      await store.createRun(run('j', { input: nested }));
      await store.append([ev('j', 0, 'run.started'), ev('j', 1, 'node.completed', { nodeId: 'n', output: big, skip: undefined })]);
      await store.append([ev('j', 2, 'run.completed', { output: nested })]);
      const r = await store.getRun('j');
      const json = JSON.parse(JSON.stringify(nested)) as unknown;
      expect(r?.input).toEqual(json);
      expect(r?.output).toEqual(json);
      const h = await store.history('j');
      expect(h[1]?.['output']).toBe(big);
      expect('skip' in (h[1] ?? {})).toBe(false);
      expect(h[2]?.['output']).toEqual(json);
    });

    it('after close, every method is STORE_CLOSED', async () => {
      await started('r1');
      await store.close();
      expect(await codeOf(store.createRun(run('r2')))).toBe('STORE_CLOSED');
      expect(await codeOf(store.append([ev('r1', 1, 'x')]))).toBe('STORE_CLOSED');
      expect(await codeOf(store.getRun('r1'))).toBe('STORE_CLOSED');
      expect(await codeOf(store.history('r1'))).toBe('STORE_CLOSED');
      expect(await codeOf(store.listRuns())).toBe('STORE_CLOSED');
      expect(await codeOf(store.claim({ owner: 'p', leaseMs: 1, limit: 1, now: T0 }))).toBe('STORE_CLOSED');
      expect(await codeOf(store.renew('p', ['r1'], 1, T0))).toBe('STORE_CLOSED');
      expect(await codeOf(store.release('p', ['r1']))).toBe('STORE_CLOSED');
      expect(await codeOf(store.deleteRuns({ endedBefore: T0 }))).toBe('STORE_CLOSED');
    });

    it('close commits writes still queued', async () => {
      await store.createRun(run('q'));
      const pending = store.append([ev('q', 0, 'run.started')]);
      await store.close();
      await pending;
      if (more.reopen === undefined) return;
      const again = await more.reopen(store);
      expect((await again.history('q')).length).toBe(1);
      await again.close();
    });
  });
}
