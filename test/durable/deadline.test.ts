// A durable run keeps the priority and the deadline it was started with: recovered after a crash
// or woken from a wait, it runs at its priority with what is left of its deadline, and fails with
// TIMEOUT (no node run, no model called) when nothing is left. Before, a recovered run ran at
// normal priority with no deadline at all: a run started with `deadlineMs: 30_000` could run for
// hours after a crash, and a parked run woken a week later ran on unbounded.
// Time is virtual: the wall clock (Date) is moved, timers are real and never reach a deadline.
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { isTimeoutError } from '../../src/errors.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { crashingStore, until } from './helpers.ts';

const HOUR = 3_600_000;
const LEASE = 1_000;

/** A chain whose second node notes the priority it runs at. */
function noting(seen: string[]) {
  return topology('deadlined')
    .map('a', { run: () => 1 })
    .map('b', { after: ['a'], run: ({ deps, priority }) => { seen.push(priority); return deps.a + 1; } })
    .build({ output: 'b' });
}

const approval = topology('deadlined-wait')
  .wait('ok', { name: 'ok', schema: z.boolean(), timeoutMs: 2 * HOUR })
  .llm('answer', { after: ['ok'], model: 'sim:fast', prompt: () => 'answer' })
  .build({ output: 'answer' });

describe('a durable run keeps its priority and deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('recovered after a crash: the same priority and deadline, recorded in its first run.started', async () => {
    const base = createMemoryStore();
    const seen: string[] = [];
    const t = noting(seen);
    // crash once run.started and a's events are stored: b runs here, but nothing of it is stored
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { leaseMs: LEASE } });
    const t0 = Date.now();
    void e1.run(t, undefined, { runId: 'd1', priority: 'high', deadlineMs: HOUR });
    await until(() => crashed.crashed);
    seen.length = 0; // what b did in the crashed process
    const log = await base.history('d1');
    expect(log[0]).toMatchObject({ type: 'run.started', priority: 'high', deadline: t0 + HOUR, deadlineMs: HOUR });
    expect(foldRun(log)).toMatchObject({ priority: 'high', deadline: t0 + HOUR, deadlineMs: HOUR });

    vi.setSystemTime(t0 + 10 * LEASE); // the lease has run out; 59 minutes of the hour are left
    const e2 = createEngine({ store: base, topologies: [t] });
    const [r] = await firstValueFrom((await e2.recover()).results.pipe(toArray()));
    expect(r?.status).toBe('completed');
    expect(seen).toEqual(['high']);
    const again = (await base.history('d1')).filter((e) => e.type === 'run.started');
    expect(again[1]).toMatchObject({ priority: 'high', deadline: t0 + HOUR, deadlineMs: HOUR });
    await e2.shutdown();
  });

  it('recovered after its deadline passed: fails with TIMEOUT at once, its remaining nodes never run', async () => {
    const base = createMemoryStore();
    const seen: string[] = [];
    const t = noting(seen);
    const crashed = crashingStore(base, 3);
    const e1 = createEngine({ store: crashed, durable: { leaseMs: LEASE } });
    void e1.run(t, undefined, { runId: 'd2', deadlineMs: HOUR });
    await until(() => crashed.crashed);
    seen.length = 0; // what b did in the crashed process

    vi.setSystemTime(Date.now() + 2 * HOUR);
    const e2 = createEngine({ store: base, topologies: [t] });
    const [r] = await firstValueFrom((await e2.recover()).results.pipe(toArray()));
    expect(r?.status).toBe('failed');
    expect(isTimeoutError(r?.error)).toBe(true);
    expect(r?.error?.message).toBe(`run of 'deadlined' timed out after ${HOUR} ms`);
    expect(seen).toEqual([]);
    const state = foldRun(await base.history('d2'));
    expect(state.status).toBe('failed');
    expect(state.error).toMatchObject({ code: 'TIMEOUT' });
    await e2.shutdown();
  });

  it('parked: wakes at its deadline when that comes before its wait\'s timeout, and fails with TIMEOUT', async () => {
    const store = createMemoryStore();
    const e1 = createEngine({ store, topologies: [approval] });
    const t0 = Date.now();
    expect((await e1.run(approval, undefined, { runId: 'p1', deadlineMs: HOUR })).status).toBe('waiting');
    // the wait's own timeout is 2 h away: the run's deadline, 1 h away, is when it wakes
    expect((await store.getRun('p1'))?.wait?.timeoutAt).toBe(t0 + HOUR);
    await e1.shutdown();

    let calls = 0;
    const e2 = createEngine({ store, topologies: [approval] });
    e2.events$.subscribe((e) => { if (e.type === 'model.call') calls++; });
    expect((await e2.recover({ wake: true })).resumed).toEqual([]); // not yet
    vi.setSystemTime(t0 + HOUR);
    const report = await e2.recover({ wake: true });
    expect(report.resumed).toEqual(['p1']);
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.status).toBe('failed');
    expect(r?.error?.code).toBe('TIMEOUT');
    expect(calls).toBe(0);
    await e2.shutdown();
  });

  it('parked: a signal after its deadline ends it with TIMEOUT; one before resumes it with what is left', async () => {
    const store = createMemoryStore();
    const e1 = createEngine({ store, topologies: [approval] });
    const t0 = Date.now();
    await e1.run(approval, undefined, { runId: 'late', deadlineMs: HOUR });
    await e1.run(approval, undefined, { runId: 'early', deadlineMs: HOUR, priority: 'low' });
    await e1.run(approval, undefined, { runId: 'long', deadlineMs: 3 * HOUR });
    // a deadline after the wait's timeout leaves the wait's timeout as it was
    expect((await store.getRun('long'))?.wait?.timeoutAt).toBe(t0 + 2 * HOUR);
    await e1.shutdown();

    const e2 = createEngine({ store, topologies: [approval] });
    const starts: unknown[] = [];
    e2.events$.subscribe((e) => { if (e.type === 'run.started') starts.push({ runId: e.runId, priority: e.priority, deadline: e.deadline }); });
    vi.setSystemTime(t0 + HOUR / 2);
    const early = await e2.signal('early', 'ok', true);
    expect((await early.result!).status).toBe('completed');
    expect(starts).toEqual([{ runId: 'early', priority: 'low', deadline: t0 + HOUR }]);

    vi.setSystemTime(t0 + HOUR + 1);
    const late = await e2.signal('late', 'ok', true);
    const r = await late.result!;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TIMEOUT');
    await e2.shutdown();
  });

  it('a run started without a deadline records none and keeps none', async () => {
    const store = createMemoryStore();
    const e = createEngine({ store });
    await e.run(noting([]), undefined, { runId: 'n1' });
    const [started] = await store.history('n1');
    expect(started).toMatchObject({ priority: 'normal' });
    expect(started).not.toHaveProperty('deadline');
    expect(started).not.toHaveProperty('deadlineMs');
    expect(foldRun(await store.history('n1'))).not.toHaveProperty('deadline');
    await e.shutdown();
  });
});
