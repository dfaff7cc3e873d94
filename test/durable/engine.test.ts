import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { StoreError, isStoreError } from '../../src/errors.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import type { EngineEvent } from '../../src/runtime/events.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import type { RunStore, StoredEvent } from '../../src/runtime/store.ts';
import { topologyVersion, topologyVersions } from '../../src/runtime/version.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { crashingStore, hookedStore, until } from './helpers.ts';

const FAR = 3_600_000;
/** An owner on another host: never judged dead, its runs are taken only when their lease expired. */
const A = 'elsewhere:1:a';

function chain(calls: Map<string, number>, name = 'chain') {
  const count = (id: string): void => void calls.set(id, (calls.get(id) ?? 0) + 1);
  return topology(name, { input: z.object({ n: z.number() }) })
    .map('a', { run: ({ input }) => { count('a'); return input.n + 1; } })
    .map('b', { after: ['a'], run: async ({ deps }) => { count('b'); return deps.a * 2; } })
    .map('c', { after: ['a'], run: ({ deps, idempotencyKey }) => { count('c'); return `${idempotencyKey}:${deps.a}`; } })
    .join('d', { after: ['b', 'c'], run: ({ deps }) => { count('d'); return { b: deps.b, c: deps.c }; } })
    .build({ output: 'd' });
}

async function logOf(store: RunStore, runId: string): Promise<StoredEvent[]> {
  return store.history(runId);
}

function expectCleanLog(log: readonly StoredEvent[]): void {
  expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k));
  const completed = log.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
  expect(new Set(completed).size).toBe(completed.length);
}

describe('durable engine', () => {
  it('records every event of a run with the bus seq, createRun first; ctx.idempotencyKey is runId:nodeId', async () => {
    const store = createMemoryStore();
    const calls = new Map<string, number>();
    const t = chain(calls);
    const engine = createEngine({ store });
    const seen: EngineEvent[] = [];
    engine.events$.subscribe((e) => seen.push(e));
    const r = await engine.run(t, { n: 1 }, { runId: 'r1', tenant: 'acme' });
    expect(r.status).toBe('completed');
    expect(r.output).toEqual({ b: 4, c: 'r1:c:2' });
    const rec = await store.getRun('r1');
    expect(rec).toMatchObject({ status: 'completed', topology: 'chain', tenant: 'acme', input: { n: 1 }, output: { b: 4, c: 'r1:c:2' } });
    expect(rec?.version).toMatch(/^v2:/);
    const log = await logOf(store, 'r1');
    expectCleanLog(log);
    expect(log.map((e) => `${e.seq}:${e.type}`)).toEqual(seen.filter((e) => 'seq' in e).map((e) => `${(e as { seq: number }).seq}:${e.type}`));
    expect(foldRun(log).outputs).toEqual(r.outputs);
    await engine.shutdown();
  });

  it("a completed node's children start only after its node.completed is stored", async () => {
    const base = createMemoryStore();
    const stored = new Set<string>();
    const violations: string[] = [];
    const store = hookedStore(base, async (events, forward) => {
      await new Promise((r) => setTimeout(r, 1));
      await forward();
      for (const e of events) if (e.type === 'node.completed') stored.add(e.nodeId!);
    });
    const t = topology('gate')
      .map('a', { run: () => 1 })
      .map('b', { after: ['a'], run: ({ deps }) => { if (!stored.has('a')) violations.push('b before a stored'); return deps.a + 1; } })
      .map('c', { after: ['b'], run: ({ deps }) => { if (!stored.has('b')) violations.push('c before b stored'); return deps.b + 1; } })
      .build({ output: 'c' });
    const engine = createEngine({ store });
    const r = await engine.run(t, undefined, { runId: 'g1' });
    expect(r.status).toBe('completed');
    expect(violations).toEqual([]);
    // the result is delivered only once the whole log, run.completed included, is stored
    expect((await base.getRun('g1'))?.status).toBe('completed');
    await engine.shutdown();
  });

  it('one write per step of a chain: the row goes with the first events, a quick node\'s start with its end, the last node with the run\'s end', async () => {
    const base = createMemoryStore();
    const writes: string[][] = [];
    const store = hookedStore(base, async (events, forward) => {
      writes.push(events.map((e) => `${e.type}${e.nodeId === undefined ? '' : `:${e.nodeId}`}`));
      await forward();
    });
    const t = topology('steps')
      .map('a', { run: async () => 1 })
      .map('b', { after: ['a'], run: async ({ deps }) => deps.a + 1 })
      .map('c', { after: ['b'], run: async ({ deps }) => deps.b + 1 })
      .build({ output: 'c' });
    const engine = createEngine({ store });
    expect((await engine.run(t, undefined, { runId: 'w1' })).output).toBe(3);
    expect(writes).toEqual([
      ['run.started', 'node.started:a', 'node.completed:a'],
      ['node.started:b', 'node.completed:b'],
      ['node.started:c', 'node.completed:c', 'run.completed'],
    ]);
    await engine.shutdown();
  });

  it('fails a run whose events cannot be stored (after retrying retriable errors), never runs on unrecorded', async () => {
    const base = createMemoryStore();
    let failures = 2;
    const flaky = hookedStore(base, (_e, forward) => (failures-- > 0 ? Promise.reject(new StoreError('STORE_UNAVAILABLE', 'gone for a moment')) : forward()));
    const calls = new Map<string, number>();
    const e1 = createEngine({ store: flaky });
    expect((await e1.run(chain(calls), { n: 1 }, { runId: 'f1' })).status).toBe('completed');
    await e1.shutdown();

    const broken = hookedStore(base, (events, forward) => (events.some((e) => e.type === 'node.completed')
      ? Promise.reject(new StoreError('STORE_FULL', 'disk full')) : forward()));
    const calls2 = new Map<string, number>();
    const e2 = createEngine({ store: broken });
    const r = await e2.run(chain(calls2), { n: 1 }, { runId: 'f2' });
    expect(r.status).toBe('failed');
    expect(isStoreError(r.error) && r.error.code).toBe('STORE_FULL');
    expect(calls2.get('b')).toBeUndefined(); // nothing downstream of the unrecorded output ran
    await e2.shutdown();
  });

  it('recovers a run after a crash without re-running completed nodes', async () => {
    const base = createMemoryStore();
    const calls = new Map<string, number>();
    const t = chain(calls);
    // crash once run.started, node a and node b are stored
    const crashed = crashingStore(base, 5);
    const e1 = createEngine({ store: crashed, durable: { owner: A, leaseMs: 1_000 } });
    void e1.run(t, { n: 1 }, { runId: 'c1' });
    await until(() => crashed.crashed);
    const before = foldRun(await base.history('c1'));
    const doneBefore = Object.keys(before.outputs);
    expect(doneBefore.length).toBeGreaterThan(0);

    const after = new Map<string, number>();
    const t2 = chain(after); // same definition, a fresh process's functions
    const e2 = createEngine({ store: base, topologies: [t2], durable: { now: () => Date.now() + FAR } });
    const restarts: string[] = [];
    e2.events$.subscribe((e) => { if (e.type === 'node.restart') restarts.push(e.nodeId); });
    const report = await e2.recover();
    expect(report.resumed).toEqual(['c1']);
    const results = await firstValueFrom(report.results.pipe(toArray()));
    expect(results.map((r) => [r.runId, r.status, r.output])).toEqual([['c1', 'completed', { b: 4, c: 'c1:c:2' }]]);
    for (const id of doneBefore) expect(after.get(id)).toBeUndefined();
    const log = await base.history('c1');
    expectCleanLog(log);
    expect(log.filter((e) => e.type === 'node.resumed').map((e) => e.nodeId).sort()).toEqual([...doneBefore].sort());
    expect((await base.getRun('c1'))?.status).toBe('completed');
    expect(restarts).toEqual([]); // no llm node in this topology
    await e2.shutdown();
  });

  it("a recovered run's usage counts what its nodes spent before the crash (node events carry their usage)", async () => {
    const base = createMemoryStore();
    const t = topology('spend')
      .llm('draft', { model: 'sim:fast', prompt: () => 'write' })
      .llm('review', { after: ['draft'], model: 'sim:fast', prompt: ({ deps }) => `review: ${deps.draft.text}` })
      .build({ output: 'review' });
    // crash once run.started, draft's node.started and node.completed are stored (review never ran)
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { owner: A, leaseMs: 1_000 } });
    void e1.run(t, undefined, { runId: 's1' });
    await until(() => crashed.crashed);
    const before = foldRun(await base.history('s1'));
    expect(before.nodes.draft?.status).toBe('completed');
    const draftSpent = before.spent?.draft;
    expect(draftSpent).toMatchObject({ calls: 1 });
    expect(draftSpent!.outputTokens).toBeGreaterThan(0);

    const e2 = createEngine({ store: base, topologies: [t], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.status).toBe('completed');
    expect(r?.usage.calls).toBe(2); // draft's call before the crash, review's after
    expect(r?.usage.byNode.draft).toEqual(draftSpent);
    expect(r?.usage.outputTokens).toBe(draftSpent!.outputTokens + r!.usage.byNode.review!.outputTokens);
    const log = await base.history('s1');
    expect(log.at(-1)).toMatchObject({ type: 'run.completed', usage: { calls: 2 } });
    await e2.shutdown();
  });

  it('two engines recovering one store concurrently never run the same run', async () => {
    const base = createMemoryStore();
    const calls = new Map<string, number>();
    const t = chain(calls);
    const crashed = crashingStore(base, 100); // 20 runs of 10 events each (about 3 with each row): crashes mid-way
    const e1 = createEngine({ store: crashed, durable: { owner: A, leaseMs: 1_000 } });
    for (let k = 0; k < 20; k++) void e1.run(t, { n: k }, { runId: `L${k}` });
    await until(() => crashed.crashed);
    expect((await base.listRuns({ limit: 100 })).runs.length).toBe(20);
    const mk = (owner: string) => createEngine({ store: base, topologies: [chain(new Map())], durable: { owner, now: () => Date.now() + FAR } });
    const x = mk('x:1:x');
    const y = mk('y:1:y');
    const [rx, ry] = await Promise.all([x.recover(), y.recover()]);
    const all = [...rx.resumed, ...ry.resumed];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(20);
    const results = [...await firstValueFrom(rx.results.pipe(toArray())), ...await firstValueFrom(ry.results.pipe(toArray()))];
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    for (const r of results) expectCleanLog(await base.history(r.runId));
    await Promise.all([x.shutdown(), y.shutdown()]);
  });

  it('cancels a run whose lease another process took (LEASE_LOST) and stops recording it', async () => {
    const base = createMemoryStore();
    let release: () => void = () => undefined;
    const t = topology('slow').map('a', { run: () => new Promise<number>((r) => { release = () => r(1); }) }).build({ output: 'a' });
    let now = 1_000_000;
    const e1 = createEngine({ store: base, durable: { owner: A, leaseMs: 30, now: () => now } });
    const p = e1.run(t, undefined, { runId: 'l1' });
    await until(async () => (await base.getRun('l1'))?.lastSeq === 1); // run.started, node.started
    now += 10_000; // e1's lease expired in the store's eyes
    const taken = await base.claim({ owner: 'thief:1:t', leaseMs: FAR, limit: 10, now });
    expect(taken.map((r) => r.runId)).toEqual(['l1']);
    const r = await p; // e1's next renewal finds the lease gone
    expect(r.status).toBe('cancelled');
    expect(isStoreError(r.error) && r.error.code).toBe('LEASE_LOST');
    release();
    const log = await base.history('l1');
    expect(log.some((e) => e.type === 'run.cancelled' || e.type === 'node.completed')).toBe(false);
    expect((await base.getRun('l1'))?.leaseOwner).toBe('thief:1:t');
    await e1.shutdown();
  });

  it('fails a run recorded under a version the engine does not have with TOPOLOGY_CHANGED', async () => {
    const base = createMemoryStore();
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { owner: A } });
    void e1.run(chain(new Map()), { n: 1 }, { runId: 'v1' });
    await until(() => crashed.crashed);
    const changed = topology('chain', { input: z.object({ n: z.number() }) }).map('a', { run: ({ input }) => input.n + 100 }).build({ output: 'a' });
    const e2 = createEngine({ store: base, topologies: [changed], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.resumed).toEqual([]);
    expect(report.failed.map((f) => [f.runId, f.error.code])).toEqual([['v1', 'TOPOLOGY_CHANGED']]);
    const rec = await base.getRun('v1');
    expect(rec?.status).toBe('failed');
    expect(rec?.error?.code).toBe('TOPOLOGY_CHANGED');
    expect(report.failed[0]!.error.message).toContain(rec!.version);
    expect(report.failed[0]!.error.message).toContain("'chain'");
    await firstValueFrom(report.results.pipe(toArray()));
    await e2.shutdown();
  });

  it("resumes a run an earlier release recorded under the topology's v1 version (which also hashed the node kinds' code)", async () => {
    const base = createMemoryStore();
    const calls = new Map<string, number>();
    const t = chain(calls);
    const [v2, v1] = topologyVersions(t);
    expect([v2, v1].map((v) => v.slice(0, 3))).toEqual(['v2:', 'v1:']);
    expect(topologyVersion(t)).toBe(v2);
    // a process of an earlier release recorded the run under v1, then died after 3 events
    const crashed = crashingStore(base, 3);
    const old = { ...crashed, createRun: (r: Parameters<RunStore['createRun']>[0]) => crashed.createRun({ ...r, version: v1 }) } as RunStore;
    const e1 = createEngine({ store: old, durable: { owner: A } });
    void e1.run(t, { n: 1 }, { runId: 'old-1' });
    await until(() => crashed.crashed);
    expect((await base.getRun('old-1'))?.version).toBe(v1);
    const e2 = createEngine({ store: base, topologies: [chain(new Map())], durable: { now: () => Date.now() + FAR } });
    const report = await e2.recover();
    expect(report.failed).toEqual([]);
    expect(report.resumed).toEqual(['old-1']);
    const [result] = await firstValueFrom(report.results.pipe(toArray()));
    expect(result?.status).toBe('completed');
    expect(result?.output).toEqual({ b: 4, c: 'old-1:c:2' });
    await e2.shutdown();
  });

  it('restarts an llm node cut mid-stream with a node.restart (recovered) before it starts again', async () => {
    const base = createMemoryStore();
    // sim:default waits 250 ms for its first token, so the node is still streaming when its first events are stored
    const story = topology('story').llm('draft', { model: 'sim:default', prompt: () => 'Tell me about streams.', maxTokens: 8 }).build({ output: 'draft' });
    const crashed = crashingStore(base, 2); // run.started and node.started stored, then the process dies
    const e1 = createEngine({ store: crashed, durable: { owner: A } });
    void e1.run(story, undefined, { runId: 's1' });
    await until(() => crashed.crashed);
    const e2 = createEngine({ store: base, topologies: [story], durable: { now: () => Date.now() + FAR } });
    const seen: string[] = [];
    e2.events$.subscribe((e) => { if (e.type === 'node.restart') seen.push(`restart:${e.nodeId}:${e.reason}`); else if (e.type === 'node.started') seen.push(`started:${e.nodeId}:${e.seq}`); });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.status).toBe('completed');
    expect(seen).toEqual(['restart:draft:recovered', 'started:draft:3']); // seq 2 is the recovered run.started
    expect(foldRun(await base.history('s1')).nodes['draft']).toMatchObject({ status: 'completed', starts: 2 });
    await e2.shutdown();
  });

  it('shutdown leaves durable runs in flight to be recovered: not recorded as cancelled, leases released', async () => {
    const base = createMemoryStore();
    let hang = true;
    const t = topology('hold').map('a', { run: () => 1 }).map('b', { after: ['a'], run: ({ deps }) => (hang ? new Promise<number>(() => undefined) : deps.a + 1) }).build({ output: 'b' });
    const e1 = createEngine({ store: base });
    const p = e1.run(t, undefined, { runId: 'h1' });
    await until(async () => (await base.getRun('h1'))?.lastSeq === 3); // run.started, a started+completed, b started
    await e1.shutdown({ mode: 'cancel' });
    expect((await p).status).toBe('cancelled');
    const rec = await base.getRun('h1');
    expect(rec?.status).toBe('running');
    expect(rec?.leaseOwner).toBeUndefined();
    hang = false;
    const e2 = createEngine({ store: base, topologies: [t] });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.output).toBe(2);
    expect((await base.history('h1')).filter((e) => e.type === 'node.resumed').map((e) => e.nodeId)).toEqual(['a']);
    await e2.shutdown();
  });
});
