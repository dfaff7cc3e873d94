import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { isStoreError, isValidationError, isWaitError } from '../../src/errors.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { crashingStore, until } from './helpers.ts';

const FAR = 3_600_000;
/** An owner on another host: never judged dead, its runs are taken only when their lease expired. */
const A = 'elsewhere:1:a';
const Approval = z.object({ approved: z.boolean() });

function approvalFlow(calls: string[]) {
  return topology('approval', { input: z.object({ topic: z.string() }) })
    .map('draft', { run: ({ input }) => { calls.push('draft'); return `Draft about ${input.topic}`; } })
    .wait('approve', { after: ['draft'], name: 'approval', schema: Approval })
    .map('publish', { after: ['draft', 'approve'], run: ({ deps }) => { calls.push('publish'); return deps.approve.approved ? deps.draft : null; } })
    .build({ output: 'publish' });
}

function slowChain(calls: string[]) {
  return topology('slow')
    .map('a', { run: () => { calls.push('a'); return 1; } })
    .map('b', { after: ['a'], run: ({ signal }) => { calls.push('b'); return new Promise<number>((resolve, reject) => { signal.addEventListener('abort', () => reject(signal.reason)); void resolve; }); } })
    .map('c', { after: ['b'], run: ({ deps }) => { calls.push('c'); return deps.b + 1; } })
    .build({ output: 'c' });
}

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('engine.cancel', () => {
  it('cancels a run in flight in this engine: running nodes aborted, the reason in its error', async () => {
    const calls: string[] = [];
    const engine = createEngine();
    const t = slowChain(calls);
    const pending = engine.run(t, undefined, { runId: 'c1' });
    await until(() => calls.includes('b'));
    const receipt = await engine.cancel('c1', { reason: 'no longer needed' });
    expect(receipt).toEqual({ runId: 'c1' });
    const r = await pending;
    expect(r.status).toBe('cancelled');
    expect(r.error?.message).toBe('run cancelled: no longer needed');
    expect(calls).toEqual(['a', 'b']);
    await engine.shutdown();
  });

  it('cancels a run waiting in memory (no store)', async () => {
    const calls: string[] = [];
    const engine = createEngine();
    const pending = engine.run(approvalFlow(calls), { topic: 'x' }, { runId: 'm1' });
    await until(() => calls.includes('draft'));
    await engine.cancel('m1');
    const r = await pending;
    expect(r.status).toBe('cancelled');
    expect(r.error?.message).toBe('run cancelled (engine.cancel)');
    await engine.shutdown();
  });

  it('cancels a parked run from another process: recorded as the end of its wait, then cancelled; a later signal is refused', async () => {
    const calls: string[] = [];
    const store = createMemoryStore();
    const e1 = createEngine({ store, topologies: [approvalFlow(calls)] });
    expect((await e1.run(approvalFlow(calls), { topic: 'rxjs' }, { runId: 'p1' })).status).toBe('waiting');
    await e1.shutdown();

    const e2 = createEngine({ store, topologies: [approvalFlow(calls)] });
    const receipt = await e2.cancel('p1', { reason: 'the customer withdrew' });
    const r = await receipt.result!;
    expect(r.status).toBe('cancelled');
    expect(r.error?.message).toBe('run cancelled: the customer withdrew');
    const rec = await store.getRun('p1');
    expect(rec).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED', message: 'run cancelled: the customer withdrew' } });
    expect(rec?.leaseOwner).toBeUndefined();
    const log = await store.history('p1');
    expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k));
    expect(log.slice(-2).map((e) => e.type)).toEqual(['run.signalled', 'run.cancelled']);
    expect(log.at(-2)).toMatchObject({ nodeId: 'approve', name: 'approval', cancel: { reason: 'the customer withdrew' } });
    expect(calls).toEqual(['draft']); // nothing ran again, publish never
    expect((await e2.runs.get('p1'))?.status).toBe('cancelled');
    const late = await errorOf(e2.signal('p1', 'approval', { approved: true }));
    expect(isWaitError(late) && late.code).toBe('RUN_NOT_WAITING');
    const again = await errorOf(e2.cancel('p1'));
    expect(isStoreError(again) && again.code).toBe('RUN_NOT_CANCELLABLE');
    expect((again as Error).message).toContain('has ended (cancelled)');
    await e2.shutdown();
  });

  it('a cancellation recorded by a process that died before ending the run is carried out by whoever wakes it', async () => {
    const calls: string[] = [];
    const store = createMemoryStore();
    const e1 = createEngine({ store, topologies: [approvalFlow(calls)] });
    await e1.run(approvalFlow(calls), { topic: 'rxjs' }, { runId: 'p2' });
    await e1.shutdown();
    const rec = (await store.getRun('p2'))!;
    // what engine.cancel appends first; its process dies right after
    await store.append([{ runId: 'p2', seq: rec.lastSeq + 1, ts: Date.now(), type: 'run.signalled', nodeId: 'approve', name: 'approval', cancel: { reason: 'stop' } }]);
    const e2 = createEngine({ store, topologies: [approvalFlow(calls)] });
    const report = await e2.recover({ wake: true });
    expect(report.resumed).toEqual(['p2']);
    await until(async () => (await store.getRun('p2'))?.status === 'cancelled');
    expect((await store.getRun('p2'))?.error?.message).toBe('run cancelled: stop');
    expect(calls).toEqual(['draft']);
    await e2.shutdown();
  });

  it('cancels a run a dead process left running (its lease expired), without running its nodes again', async () => {
    const calls: string[] = [];
    const base = createMemoryStore();
    const crashed = crashingStore(base, 3); // run.started, node.started a, node.completed a
    const e1 = createEngine({ store: crashed, durable: { owner: A } });
    void e1.run(slowChain(calls), undefined, { runId: 'd1' });
    await until(() => crashed.crashed);
    calls.length = 0;
    // while the lease is live, the request is stored for its holder (dead here: it never renews)
    const early = createEngine({ store: base, topologies: [slowChain(calls)] });
    expect(await early.cancel('d1', { reason: 'stuck' })).toEqual({ runId: 'd1', requestedOf: A });
    expect((await base.getRun('d1'))?.status).toBe('running');
    await early.shutdown();
    // once the lease expired
    const e2 = createEngine({ store: base, topologies: [slowChain(calls)], durable: { now: () => Date.now() + FAR } });
    const r = await (await e2.cancel('d1', { reason: 'stuck' })).result!;
    expect(r.status).toBe('cancelled');
    expect(calls).toEqual([]);
    expect(await base.getRun('d1')).toMatchObject({ status: 'cancelled', error: { message: 'run cancelled: stuck' } });
    await e2.shutdown();
  });

  it('a run another live process holds is cancelled there at its next lease renewal, which records it', async () => {
    const calls: string[] = [];
    const store = createMemoryStore();
    const holder = createEngine({ store, durable: { owner: A, leaseMs: 60 } });
    const pending = holder.run(slowChain(calls), undefined, { runId: 'live-1' });
    await until(() => calls.includes('b'));
    const other = createEngine({ store, topologies: [slowChain(calls)] });
    const receipt = await other.cancel('live-1', { reason: 'runaway' });
    expect(receipt).toEqual({ runId: 'live-1', requestedOf: A });
    const r = await pending; // the holder's renewal (every 20 ms) reads the request
    expect(r.status).toBe('cancelled');
    expect(r.error?.message).toBe('run cancelled: runaway');
    await until(async () => (await store.getRun('live-1'))?.status === 'cancelled');
    expect((await store.getRun('live-1'))?.error?.message).toBe('run cancelled: runaway');
    expect(calls).toEqual(['a', 'b']);
    await Promise.all([holder.shutdown(), other.shutdown()]);
  });

  it('on a store that cannot pass cancellations between processes, a run another live process holds is refused, saying so', async () => {
    const calls: string[] = [];
    const full = createMemoryStore();
    const { requestCancel: _r, cancelRequests: _c, ...plain } = full;
    const store = plain as typeof full;
    const holder = createEngine({ store, durable: { owner: A } });
    const pending = holder.run(slowChain(calls), undefined, { runId: 'old-store' });
    await until(() => calls.includes('b'));
    const other = createEngine({ store, topologies: [slowChain(calls)] });
    const refused = await errorOf(other.cancel('old-store'));
    expect(isStoreError(refused) && refused.code).toBe('RUN_NOT_CANCELLABLE');
    expect((refused as Error).message).toContain('cannot pass a cancellation between processes');
    await holder.cancel('old-store'); // where it runs, it can
    expect((await pending).status).toBe('cancelled');
    await Promise.all([holder.shutdown(), other.shutdown()]);
  });

  it('a cancel request whose holder died first is carried out by whoever recovers the run', async () => {
    const calls: string[] = [];
    const base = createMemoryStore();
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { owner: A } });
    void e1.run(slowChain(calls), undefined, { runId: 'r-1' });
    await until(() => crashed.crashed);
    expect(await base.requestCancel!({ runId: 'r-1', reason: 'asked before the crash', at: Date.now() })).toBe(true);
    calls.length = 0;
    const e2 = createEngine({ store: base, topologies: [slowChain(calls)], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.resumed).toEqual(['r-1']);
    await until(async () => (await base.getRun('r-1'))?.status === 'cancelled');
    expect((await base.getRun('r-1'))?.error?.message).toBe('run cancelled: asked before the crash');
    expect(calls).toEqual([]);
    await e2.shutdown();
  });

  it('refuses unknown runs, bad arguments and unregistered versions with clear errors', async () => {
    const store = createMemoryStore();
    const calls: string[] = [];
    const e1 = createEngine({ store, topologies: [approvalFlow(calls)] });
    await e1.run(approvalFlow(calls), { topic: 'x' }, { runId: 'v1' });
    await e1.shutdown();
    const engine = createEngine({ store });
    const unknown = await errorOf(engine.cancel('nobody'));
    expect(isStoreError(unknown) && unknown.code).toBe('RUN_NOT_FOUND');
    const bad = await errorOf(engine.cancel(''));
    expect(isValidationError(bad) && bad.issues.map((i) => i.path)).toEqual([['runId']]);
    const long = await errorOf(engine.cancel('v1', { reason: 'x'.repeat(1001) }));
    expect(isValidationError(long) && long.issues.map((i) => i.path)).toEqual([['options', 'reason']]);
    const unregistered = await errorOf(engine.cancel('v1'));
    expect(isStoreError(unregistered) && unregistered.code).toBe('TOPOLOGY_CHANGED');
    expect((await store.getRun('v1'))?.status).toBe('waiting'); // refused before anything was recorded
    await engine.shutdown();
    const memoryOnly = createEngine();
    expect(await errorOf(memoryOnly.cancel('nobody'))).toMatchObject({ code: 'RUN_NOT_FOUND' });
    await memoryOnly.shutdown();
  });
});
