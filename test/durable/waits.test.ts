import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { isStoreError, isValidationError, isWaitError, isNodeError } from '../../src/errors.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';

const Approval = z.object({ approved: z.boolean(), by: z.string() });

function approvalFlow(calls: Map<string, number>, timeoutMs?: number) {
  const count = (id: string): void => void calls.set(id, (calls.get(id) ?? 0) + 1);
  return topology('approval', { input: z.object({ topic: z.string() }) })
    .map('draft', { run: ({ input }) => { count('draft'); return `Draft about ${input.topic}`; } })
    .wait('approve', { after: ['draft'], name: 'approval', schema: Approval, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
    .map('publish', { after: ['draft', 'approve'], run: ({ deps }) => { count('publish'); return deps.approve.approved ? `published: ${deps.draft} (${deps.approve.by})` : 'rejected'; } })
    .build({ output: 'publish' });
}

describe('wait nodes', () => {
  it('park a durable run (run.waiting stored, lease released), resume it in a new engine on a signal without re-running upstream', async () => {
    const store = createMemoryStore();
    const calls = new Map<string, number>();
    const t = approvalFlow(calls);
    const e1 = createEngine({ store, topologies: [t] });
    const r = await e1.run(t, { topic: 'rxjs' }, { runId: 'w1' });
    expect(r.status).toBe('waiting');
    if (r.status !== 'waiting') return;
    expect(r.wait).toEqual({ nodeId: 'approve', name: 'approval' });
    expect(r.outputs).toEqual({ draft: 'Draft about rxjs' });
    expect(e1.inFlight).toBe(0);
    const rec = await store.getRun('w1');
    expect(rec).toMatchObject({ status: 'waiting', wait: { nodeId: 'approve', name: 'approval' } });
    expect(rec?.leaseOwner).toBeUndefined();
    await e1.shutdown();

    // "days later", another process
    const e2 = createEngine({ store, topologies: [approvalFlow(calls)] });
    const receipt = await e2.signal('w1', 'approval', { approved: true, by: 'ana' });
    const done = await receipt.result!;
    expect(done.status).toBe('completed');
    expect(done.output).toBe('published: Draft about rxjs (ana)');
    expect(calls.get('draft')).toBe(1);
    expect(calls.get('publish')).toBe(1);
    const log = await store.history('w1');
    expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k));
    const types = log.map((e) => `${e.type}${e.nodeId === undefined ? '' : `:${e.nodeId}`}`);
    expect(types).toEqual([
      'run.started', 'node.started:draft', 'node.completed:draft', 'node.started:approve', 'run.waiting:approve', 'run.signalled:approve',
      'run.started', 'node.resumed:draft', 'node.started:approve', 'node.completed:approve', 'node.started:publish', 'node.completed:publish', 'run.completed',
    ]);
    expect((await store.getRun('w1'))?.status).toBe('completed');
    await e2.shutdown();
  });

  it('refuses bad signals with clear errors: invalid payload (naming the field), unknown run, wrong name, not waiting', async () => {
    const store = createMemoryStore();
    const t = approvalFlow(new Map());
    const engine = createEngine({ store, topologies: [t] });
    await engine.run(t, { topic: 'x' }, { runId: 'w2' });
    const bad = await engine.signal('w2', 'approval', { approved: 'yes', by: 'ana' }).catch((e: unknown) => e);
    expect(isValidationError(bad) && bad.code).toBe('SIGNAL_INVALID');
    expect(isValidationError(bad) && bad.issues[0]?.path).toEqual(['payload', 'approved']);
    const unknown = await engine.signal('nope', 'approval', {}).catch((e: unknown) => e);
    expect(isStoreError(unknown) && unknown.code).toBe('RUN_NOT_FOUND');
    const wrong = await engine.signal('w2', 'other', {}).catch((e: unknown) => e);
    expect(isWaitError(wrong) && wrong.code).toBe('WAIT_NAME_MISMATCH');
    // the bad payload appended nothing: the run still waits and takes a good signal
    const ok = await engine.signal('w2', 'approval', { approved: false, by: 'bo' });
    expect((await ok.result!).output).toBe('rejected');
    const again = await engine.signal('w2', 'approval', { approved: true, by: 'bo' }).catch((e: unknown) => e);
    expect(isWaitError(again) && again.code).toBe('RUN_NOT_WAITING');
    await engine.shutdown();
  });

  it('a timed-out wait (judged by the injected clock) fails the run with WAIT_TIMEOUT when recover({ wake: true }) sweeps it', async () => {
    const store = createMemoryStore();
    let now = 1_000_000;
    const t = approvalFlow(new Map(), 60_000);
    const engine = createEngine({ store, topologies: [t], durable: { now: () => now } });
    const r = await engine.run(t, { topic: 'x' }, { runId: 'w3' });
    expect(r.status === 'waiting' && r.wait.timeoutAt).toBe(1_060_000);
    now = 1_059_999;
    expect((await engine.recover({ wake: true })).resumed).toEqual([]);
    now = 1_060_000;
    const report = await engine.recover({ wake: true });
    expect(report.resumed).toEqual(['w3']);
    const results = await new Promise<unknown[]>((resolve) => { const out: unknown[] = []; report.results.subscribe({ next: (x) => out.push(x), complete: () => resolve(out) }); });
    const end = results[0] as { status: string; error: unknown };
    expect(end.status).toBe('failed');
    expect(isNodeError(end.error) && isWaitError(end.error.cause) && end.error.cause.code).toBe('WAIT_TIMEOUT');
    await engine.shutdown();
  });

  it('a timed-out wait with onError takes the error edge', async () => {
    const store = createMemoryStore();
    let now = 0;
    const t = topology('escalate')
      .wait('ok', { name: 'ok', schema: z.string(), timeoutMs: 10, onError: 'escalate' })
      .map('escalate', { after: ['ok'], run: () => 'escalated' })
      .build({ output: 'escalate' });
    const engine = createEngine({ store, topologies: [t], durable: { now: () => now } });
    expect((await engine.run(t, undefined, { runId: 'w4' })).status).toBe('waiting');
    now = 10;
    const report = await engine.recover({ wake: true });
    const end = await new Promise<{ status: string; output: unknown }>((resolve) => report.results.subscribe((x) => resolve(x as never)));
    expect(end).toMatchObject({ status: 'completed', output: 'escalated' });
    await engine.shutdown();
  });

  it('without a store a wait waits in memory until engine.signal, and its timeout fails it', async () => {
    const calls = new Map<string, number>();
    const engine = createEngine();
    const t = approvalFlow(calls);
    const pending = engine.run(t, { topic: 'mem' }, { runId: 'm1' });
    await new Promise((r) => setImmediate(r));
    const bad = await engine.signal('m1', 'approval', { approved: 1 }).catch((e: unknown) => e);
    expect(isValidationError(bad) && bad.code).toBe('SIGNAL_INVALID');
    const receipt = await engine.signal('m1', 'approval', { approved: true, by: 'cy' });
    expect(receipt.result).toBeUndefined();
    expect((await pending).output).toBe('published: Draft about mem (cy)');
    const missing = await engine.signal('m1', 'approval', {}).catch((e: unknown) => e);
    expect(isWaitError(missing) && missing.code).toBe('RUN_NOT_WAITING');
    const timed = await engine.run(approvalFlow(calls, 1), { topic: 't' });
    expect(timed.status).toBe('failed');
    expect(timed.error !== undefined && isNodeError(timed.error) && isWaitError(timed.error.cause) && timed.error.cause.code).toBe('WAIT_TIMEOUT');
    await engine.shutdown();
  });
});
