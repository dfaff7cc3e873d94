/**
 * Runtime behaviour of the engine: failure isolation, onError edges,
 * cancellation, timeouts and deadlines (virtual time), admission and
 * backpressure, shared limits and priority, shutdown, the event bus, resume,
 * schema checks and option validation.
 *
 * Nothing here depends on wall-clock time: asynchrony is driven by deferreds
 * resolved by hand, by draining the task queue, or by vi.useFakeTimers().
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { range, Subject, take } from 'rxjs';
import { z } from 'zod';
import {
  createEngine, isCancelledError, isNodeError, isRejectedError, isTimeoutError, isValidationError, topology,
  CancelledError, NodeError, TimeoutError, ValidationError,
  type Engine, type Issue, type NodeContext, type Priority, type RunEvent, type RunEventType, type RunResult, type Topology,
} from '../src/index.ts';
import { collect, deferred, flush, type Deferred } from './support/helpers.ts';

// ---------------------------------------------------------------- helpers


/** Microtask hops only: safe under fake timers. */
async function hops(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Never settles on its own; rejects with the signal's reason when it aborts. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const abort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

/** Records the lifecycle events of the bus (token events, if any, are left out). */
function record(engine: Engine): RunEvent[] {
  const events: RunEvent[] = [];
  engine.events$.subscribe((e) => {
    if ('seq' in e) events.push(e);
  });
  return events;
}

function issueAt(issues: readonly Issue[], path: readonly (string | number)[]): Issue {
  const found = issues.find((i) => JSON.stringify(i.path) === JSON.stringify(path));
  if (found === undefined) throw new Error(`no issue at ${path.join('.')}; got ${JSON.stringify(issues)}`);
  return found;
}

/**
 * A gate per node call: the call registers itself and waits until the test
 * opens it. Tracks how many calls are inside at once.
 */
class Gates {
  readonly waiting: { readonly label: string; readonly d: Deferred<void> }[] = [];
  readonly started: string[] = [];
  active = 0;
  peak = 0;

  async enter(label: string): Promise<void> {
    this.started.push(label);
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    const d = deferred();
    this.waiting.push({ label, d });
    try {
      await d.promise;
    } finally {
      this.active--;
    }
  }

  /** Opens the oldest waiting gate. */
  openOldest(): string | undefined {
    const g = this.waiting.shift();
    g?.d.resolve();
    return g?.label;
  }

  openAll(): void {
    while (this.waiting.length) this.openOldest();
  }
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const types = (r: RunResult<unknown, unknown>): RunEventType[] => r.events.map((e) => e.type);

// ---------------------------------------------------------------- failure isolation

describe('failure isolation', () => {
  function isolationTopology(siblingSignals: Map<number, AbortSignal>, gates: Map<number, Deferred<void>>) {
    return topology('isolation', { input: z.object({ id: z.number(), fail: z.boolean() }) })
      .map('ok', { run: () => 'fine' })
      .map('sibling', {
        run: ({ input, signal }) => {
          siblingSignals.set(input.id, signal);
          const d = deferred();
          gates.set(input.id, d);
          return Promise.race([d.promise.then(() => 'sibling done'), untilAborted(signal)]);
        },
      })
      .map('boom', {
        after: ['ok'],
        run: async ({ input }) => {
          await Promise.resolve();
          if (input.fail) throw Object.assign(new Error('upstream 503'), { retriable: true });
          return 'boomed';
        },
      })
      .map('afterBoom', { after: ['boom'], run: () => 'never for the failing run' })
      .build();
  }

  it('a failing node fails its run with a NodeError; completed outputs and the full history are kept', async () => {
    const signals = new Map<number, AbortSignal>();
    const gates = new Map<number, Deferred<void>>();
    const engine = createEngine();
    const r = await engine.run(isolationTopology(signals, gates), { id: 1, fail: true });
    expect(r.status).toBe('failed');
    expect(r.error).toBeInstanceOf(NodeError);
    expect(isNodeError(r.error)).toBe(true);
    if (!isNodeError(r.error)) return;
    expect(r.error.nodeId).toBe('boom');
    expect(r.error.code).toBe('NODE_FAILED');
    expect(r.error.retriable).toBe(true); // copied from the cause's retriable: true
    expect(r.error.cause).toBeInstanceOf(Error);
    expect((r.error.cause as Error).message).toBe('upstream 503');
    expect(r.error.message).toContain("node 'boom' failed: upstream 503");
    expect(r.output).toBeUndefined();
    expect(r.outputs).toEqual({ ok: 'fine' });
    expect(r.skipped).toEqual([]);

    // let the aborted sibling settle: nothing may be recorded after run.failed
    await flush();
    const events = r.events;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(events.every((e) => e.runId === r.runId && e.topology === 'isolation' && typeof e.ts === 'number')).toBe(true);
    const ts = types(r);
    expect(ts[0]).toBe('run.started');
    expect(ts.at(-1)).toBe('run.failed');
    expect(ts.filter((t) => t === 'run.failed')).toHaveLength(1);
    const failed = events.find((e) => e.type === 'node.failed');
    expect(failed).toMatchObject({ type: 'node.failed', nodeId: 'boom', handled: false, error: { nodeId: 'boom', retriable: true } });
    expect(events.some((e) => e.type === 'node.completed' && e.nodeId === 'ok')).toBe(true);
    expect(events.some((e) => e.type === 'node.started' && e.nodeId === 'afterBoom')).toBe(false);
    const last = events.at(-1)!;
    expect(last.type === 'run.failed' && last.error).toMatchObject({ code: 'NODE_FAILED', nodeId: 'boom', retriable: true });
    expect(r.events).toHaveLength(events.length);
  });

  it('a retriable flag is false unless the cause says retriable: true', async () => {
    const t = topology('non-retriable').map('a', { run: () => { throw Object.assign(new Error('400'), { retriable: 'yes' }); } }).build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(r.error?.retriable).toBe(false);
  });

  it('a running sibling of the failed run sees its ctx.signal aborted; other runs on the engine complete', async () => {
    const signals = new Map<number, AbortSignal>();
    const gates = new Map<number, Deferred<void>>();
    const engine = createEngine();
    const t = isolationTopology(signals, gates);
    const good = [2, 3, 4].map((id) => engine.run(t, { id, fail: false }));
    const bad = engine.run(t, { id: 1, fail: true });
    const r = await bad;
    expect(r.status).toBe('failed');

    const sig = signals.get(1)!;
    expect(sig.aborted).toBe(true);
    expect(isCancelledError(sig.reason)).toBe(true);
    expect((sig.reason as CancelledError).cause).toBe(r.error);
    for (const id of [2, 3, 4]) expect(signals.get(id)!.aborted).toBe(false);

    for (const id of [2, 3, 4]) gates.get(id)!.resolve();
    const results = await Promise.all(good);
    for (const g of results) {
      expect(g.status).toBe('completed');
      expect(g.outputs).toEqual({ ok: 'fine', sibling: 'sibling done', boom: 'boomed', afterBoom: 'never for the failing run' });
    }
    expect(engine.inFlight).toBe(0);
  });

  it('a synchronous throw is isolated the same way', async () => {
    const t = topology('sync-throw', { input: z.number() })
      .map('a', { run: ({ input }) => { if (input === 2) throw new Error('two'); return input; } })
      .build({ output: 'a' });
    const engine = createEngine();
    const rs = await Promise.all([1, 2, 3].map((n) => engine.run(t, n)));
    expect(rs.map((r) => r.status)).toEqual(['completed', 'failed', 'completed']);
    expect(isNodeError(rs[1]!.error) && rs[1]!.error.nodeId).toBe('a');
  });

  it('a thrown non-Error value is wrapped', async () => {
    const t = topology('throw-string').map('a', { run: () => Promise.reject('just a string') }).build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.message).toContain('just a string');
    expect(r.error?.cause).toBe('just a string');
  });
});

// ---------------------------------------------------------------- onError

describe('onError edge', () => {
  const build = (calls: string[]) =>
    topology('on-error', { input: z.object({ fail: z.boolean() }) })
      .map('x', {
        onError: 'fallback',
        run: ({ input }) => {
          calls.push('x');
          if (input.fail) throw Object.assign(new Error('model refused'), { retriable: true });
          return 'x-ok';
        },
      })
      .map('child', { after: ['x'], run: ({ deps }) => { calls.push('child'); return `child of ${deps.x}`; } })
      .map('grandchild', { after: ['child'], run: () => { calls.push('grandchild'); return 'gc'; } })
      .map('fallback', { run: (ctx) => { calls.push('fallback'); return { got: (ctx as NodeContext).deps['x'] }; } })
      .join('final', { after: ['grandchild', 'fallback'] })
      .build({ output: 'final' });

  it('X fails: fallback runs with deps.X = the serialized error, X\'s children are skipped, the run completes', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), { fail: true });
    expect(r.status).toBe('completed');
    expect(calls).toEqual(['x', 'fallback']);
    expect(r.skipped.slice().sort()).toEqual(['child', 'grandchild']);
    const got = (r.outputs['fallback'] as { got: unknown }).got;
    expect(got).toEqual({
      name: 'NodeError',
      code: 'NODE_FAILED',
      message: "node 'x' failed: model refused",
      retriable: true,
      nodeId: 'x',
      cause: { name: 'Error', code: 'UNKNOWN', message: 'model refused', retriable: true },
    });
    expect(JSON.parse(JSON.stringify(got))).toEqual(got); // plain data
    expect(r.output).toEqual({ fallback: { got } });
    expect(r.outputs).not.toHaveProperty('x');
    const failed = r.events.find((e) => e.type === 'node.failed');
    expect(failed).toMatchObject({ nodeId: 'x', handled: true });
    expect(types(r).at(-1)).toBe('run.completed');
    expect(types(r)).not.toContain('run.failed');
  });

  it('X succeeds: children run and the fallback is skipped', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), { fail: false });
    expect(r.status).toBe('completed');
    expect(calls).toEqual(['x', 'child', 'grandchild']);
    expect(r.skipped).toEqual(['fallback']);
    expect(r.output).toEqual({ grandchild: 'gc' });
  });

  it('a join after X and its fallback sees only the fallback (X failed: its success edge to the join was not taken)', async () => {
    const t = topology('fallback-join')
      .map('x', { onError: 'fb', run: (): string => { throw new Error('nope'); } })
      .map('fb', { run: () => 'fallback' })
      .join('first', { after: ['x', 'fb'], run: ({ deps }) => deps.x ?? deps.fb })
      .build({ output: 'first' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('completed');
    // deps.x is typed string | undefined: it must not be the serialized error object
    expect(r.output).toBe('fallback');
  });

  it('a failing fallback fails the run', async () => {
    const t = topology('bad-fallback')
      .map('x', { onError: 'fb', run: () => { throw new Error('x'); } })
      .map('fb', { run: () => { throw new Error('fb too'); } })
      .build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('fb');
  });

  it('a timeout is handled by onError too', async () => {
    vi.useFakeTimers();
    const t = topology('timeout-fallback')
      .map('x', { timeoutMs: 50, onError: 'fb', run: ({ signal }) => untilAborted(signal) })
      .map('fb', { run: (ctx) => (ctx.deps as { x: { code: string } }).x.code })
      .build({ output: 'fb' });
    const p = createEngine().run(t, undefined);
    await vi.advanceTimersByTimeAsync(50);
    const r = await p;
    expect(r.status).toBe('completed');
    expect(r.output).toBe('TIMEOUT');
  });
});

// ---------------------------------------------------------------- cancellation

describe('cancellation', () => {
  it('aborting the run signal cancels the run; the running node sees ctx.signal aborted', async () => {
    const started = deferred<AbortSignal>();
    let downstream = false;
    const t = topology('cancel')
      .map('wait', { run: ({ signal }) => { started.resolve(signal); return untilAborted(signal); } })
      .map('next', { after: ['wait'], run: () => { downstream = true; return 1; } })
      .build();
    const engine = createEngine();
    const ac = new AbortController();
    const p = engine.run(t, undefined, { signal: ac.signal });
    const nodeSignal = await started.promise;
    expect(nodeSignal.aborted).toBe(false);
    const reason = new Error('user pressed stop');
    ac.abort(reason);
    const r = await p;
    expect(r.status).toBe('cancelled');
    expect(r.error).toBeInstanceOf(CancelledError);
    expect(r.error?.code).toBe('CANCELLED');
    expect(r.error?.retriable).toBe(false);
    expect(r.error?.cause).toBe(reason);
    expect(nodeSignal.aborted).toBe(true);
    await flush();
    expect(downstream).toBe(false);
    expect(types(r)[0]).toBe('run.started');
    expect(types(r).at(-1)).toBe('run.cancelled');
    expect(engine.inFlight).toBe(0);
  });

  it('runs started with one shared signal: the signal holds one listener however many runs (no MaxListenersExceededWarning on stderr), and aborting it cancels them all', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const engine = createEngine();
      const t = topology('shared-signal', { input: z.number() }).map('wait', { run: ({ signal }) => untilAborted(signal) }).build();
      const ac = new AbortController();
      const runs = Array.from({ length: 50 }, (_, i) => engine.run(t, i, { signal: ac.signal }));
      await flush();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      ac.abort(new Error('shutting down'));
      expect((await Promise.all(runs)).map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 'cancelled'));
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
      await engine.shutdown();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an already-aborted signal cancels without running any node', async () => {
    let calls = 0;
    const t = topology('pre-aborted').map('a', { run: () => ++calls }).build();
    const engine = createEngine();
    const r = await engine.run(t, undefined, { signal: AbortSignal.abort(new Error('too late')) });
    expect(r.status).toBe('cancelled');
    expect(isCancelledError(r.error)).toBe(true);
    expect(calls).toBe(0);
    expect(types(r)).not.toContain('node.started');
    expect(types(r).at(-1)).toBe('run.cancelled');
    expect(engine.inFlight).toBe(0);
  });

  it('a run waiting for admission can be cancelled', async () => {
    const gates = new Gates();
    const t = topology('cancel-queued', { input: z.string(), maxInFlight: 1 })
      .map('a', { run: ({ input }) => gates.enter(input) })
      .build();
    const engine = createEngine();
    const first = engine.run(t, 'first');
    await flush();
    const ac = new AbortController();
    const queued = engine.run(t, 'queued', { signal: ac.signal });
    await flush();
    expect(gates.started).toEqual(['first']);
    ac.abort();
    const r = await queued;
    expect(r.status).toBe('cancelled');
    gates.openAll();
    expect((await first).status).toBe('completed');
    await flush();
    expect(gates.started).toEqual(['first']);
  });

  it('aborting after the run ended changes nothing', async () => {
    const ac = new AbortController();
    const t = topology('late-abort').map('a', { run: () => 1 }).build({ output: 'a' });
    const r = await createEngine().run(t, undefined, { signal: ac.signal });
    ac.abort();
    expect(r.status).toBe('completed');
    expect(types(r).at(-1)).toBe('run.completed');
  });
});

// ---------------------------------------------------------------- timeouts and deadlines

describe('timeouts and deadlines (virtual time)', () => {
  it('node timeoutMs fails the node with TimeoutError (TIMEOUT, retriable) and aborts its signal', async () => {
    vi.useFakeTimers();
    let sig: AbortSignal | undefined;
    const t = topology('node-timeout')
      .map('slow', { timeoutMs: 100, run: ({ signal }) => { sig = signal; return untilAborted(signal); } })
      .build();
    const engine = createEngine();
    let settled = false;
    const p = engine.run(t, undefined).finally(() => { settled = true; });
    await vi.advanceTimersByTimeAsync(99);
    expect(settled).toBe(false);
    expect(sig?.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const r = await p;
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('slow');
    expect(r.error?.code).toBe('TIMEOUT');
    expect(r.error?.retriable).toBe(true);
    const cause = r.error?.cause;
    expect(cause).toBeInstanceOf(TimeoutError);
    expect(isTimeoutError(cause) && cause.timeoutMs).toBe(100);
    expect(isTimeoutError(cause) && cause.retriable).toBe(true);
    expect(sig!.aborted).toBe(true);
    expect(sig!.reason).toBe(cause);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a node that finishes in time clears its timer', async () => {
    vi.useFakeTimers();
    const t = topology('in-time')
      .map('quick', { timeoutMs: 100, run: () => new Promise<string>((res) => setTimeout(() => res('done'), 60)) })
      .build({ output: 'quick' });
    const p = createEngine().run(t, undefined);
    await vi.advanceTimersByTimeAsync(60);
    const r = await p;
    expect(r.status).toBe('completed');
    expect(r.output).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.status).toBe('completed');
  });

  it('a node without timeout arms no timer while it runs (no deadline)', async () => {
    vi.useFakeTimers();
    const gate = deferred<string>();
    let running = false;
    const t = topology('no-timer')
      .map('a', { run: () => { running = true; return gate.promise; } })
      .build({ output: 'a' });
    const p = createEngine().run(t, undefined);
    await hops();
    expect(running).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    gate.resolve('ok');
    expect((await p).output).toBe('ok');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('deadlineMs cascades: a node gets the smaller of its own timeout and what is left of the deadline', async () => {
    vi.useFakeTimers();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    let bSignal: AbortSignal | undefined;
    let bStartedAt = -1;
    const t0 = Date.now();
    const t = topology('deadline')
      .map('a', { timeoutMs: 1000, run: () => new Promise<number>((res) => setTimeout(() => res(1), 60)) })
      .map('b', {
        after: ['a'],
        timeoutMs: 1000,
        run: ({ signal }) => { bSignal = signal; bStartedAt = Date.now() - t0; return untilAborted(signal); },
      })
      .build();
    let settled = false;
    const p = createEngine().run(t, undefined, { deadlineMs: 100 }).finally(() => { settled = true; });
    await hops();
    // a: min(1000, 100 left) = 100
    expect(setTimeoutSpy.mock.calls.map((c) => c[1])).toContain(100);
    expect(setTimeoutSpy.mock.calls.map((c) => c[1])).not.toContain(1000);
    setTimeoutSpy.mockClear();
    await vi.advanceTimersByTimeAsync(60);
    expect(bStartedAt).toBe(60);
    // b starts at 60: min(1000, 40 left) = 40
    expect(setTimeoutSpy.mock.calls.map((c) => c[1])).toEqual([40]);
    await vi.advanceTimersByTimeAsync(39);
    expect(settled).toBe(false);
    expect(bSignal!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const r = await p;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TIMEOUT');
    expect(r.error?.retriable).toBe(true);
    expect(r.outputs).toEqual({ a: 1 });
    expect(bSignal!.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a node own timeout shorter than the deadline wins', async () => {
    vi.useFakeTimers();
    const t = topology('own-wins')
      .map('a', { timeoutMs: 30, run: ({ signal }) => untilAborted(signal) })
      .build();
    const p = createEngine().run(t, undefined, { deadlineMs: 1000 });
    await vi.advanceTimersByTimeAsync(30);
    const r = await p;
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('a');
    expect(isTimeoutError(r.error?.cause) && (r.error.cause as TimeoutError).timeoutMs).toBe(30);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the run deadline reaches a node without its own timeout', async () => {
    vi.useFakeTimers();
    let sig: AbortSignal | undefined;
    const t = topology('deadline-only').map('a', { run: ({ signal }) => { sig = signal; return untilAborted(signal); } }).build();
    let settled = false;
    const p = createEngine().run(t, undefined, { deadlineMs: 250 }).finally(() => { settled = true; });
    await vi.advanceTimersByTimeAsync(249);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const r = await p;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TIMEOUT');
    expect(sig!.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a run that completes before its deadline leaves no timer behind', async () => {
    vi.useFakeTimers();
    const t = topology('deadline-ok').map('a', { run: async () => 'ok' }).build({ output: 'a' });
    const r = await createEngine().run(t, undefined, { deadlineMs: 5000 });
    expect(r.status).toBe('completed');
    expect(vi.getTimerCount()).toBe(0);
  });
});

// ---------------------------------------------------------------- admission and backpressure

describe('admission', () => {
  it('topology maxInFlight N: never more than N runs started at once for 100 simultaneous engine.run calls', async () => {
    const N = 3;
    const gates = new Gates();
    const t = topology('admission', { input: z.number(), maxInFlight: N })
      .map('work', { run: async ({ input }) => { await gates.enter(String(input)); return input; } })
      .build({ output: 'work' });
    const engine = createEngine();
    let live = 0;
    let peakLive = 0;
    engine.events$.subscribe((e) => {
      if (e.type === 'run.started') peakLive = Math.max(peakLive, ++live);
      if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') live--;
    });
    const all = Array.from({ length: 100 }, (_, i) => engine.run(t, i));
    expect(engine.inFlight).toBe(100);
    let opened = 0;
    while (opened < 100) {
      await flush();
      expect(live).toBeLessThanOrEqual(N);
      expect(gates.active).toBeLessThanOrEqual(N);
      expect(gates.waiting.length).toBeGreaterThan(0);
      gates.openOldest();
      opened++;
    }
    const results = await Promise.all(all);
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(results.map((r) => r.output)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(peakLive).toBe(N);
    expect(gates.peak).toBe(N);
    expect(engine.inFlight).toBe(0);
  });

  it('queued runs are admitted by priority', async () => {
    const gates = new Gates();
    const t = topology('admission-priority', { input: z.string(), maxInFlight: 1 })
      .map('w', { run: ({ input }) => gates.enter(input) })
      .build();
    const engine = createEngine();
    const ps = [engine.run(t, 'blocker')];
    await flush();
    ps.push(engine.run(t, 'low', { priority: 'low' }), engine.run(t, 'normal'), engine.run(t, 'high', { priority: 'high' }));
    for (let i = 0; i < 4; i++) {
      await flush();
      gates.openOldest();
    }
    await Promise.all(ps);
    expect(gates.started).toEqual(['blocker', 'high', 'normal', 'low']);
  });

  it('engine.stream over a generator: pulled-but-unfinished never exceeds N, and 10,000 inputs complete', async () => {
    const N = 8;
    const t = topology('stream-admission', { input: z.number(), maxInFlight: N })
      .map('double', { run: async ({ input }) => { await Promise.resolve(); return input * 2; } })
      .build({ output: 'double' });
    const engine = createEngine();
    let pulled = 0;
    let finished = 0;
    let peak = 0;
    function* inputs(): Generator<number> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        peak = Math.max(peak, pulled - finished);
        expect(pulled - finished).toBeLessThanOrEqual(N);
        yield i;
      }
    }
    let sum = 0;
    let completed = 0;
    await new Promise<void>((resolve, reject) => {
      engine.stream(t, inputs()).subscribe({
        next: (r) => {
          finished++;
          if (r.status === 'completed') completed++;
          sum += r.output as number;
        },
        error: reject,
        complete: resolve,
      });
    });
    expect(pulled).toBe(10_000);
    expect(finished).toBe(10_000);
    expect(completed).toBe(10_000);
    expect(sum).toBe(2 * ((10_000 * 9_999) / 2));
    expect(peak).toBe(N);
    expect(engine.inFlight).toBe(0);
  });

  it('engine.stream over an async generator with a smaller stream maxInFlight', async () => {
    const gates = new Gates();
    const t = topology('stream-async', { input: z.number(), maxInFlight: 10 })
      .map('w', { run: async ({ input }) => { await gates.enter(String(input)); return input; } })
      .build({ output: 'w' });
    const engine = createEngine();
    let pulled = 0;
    let finished = 0;
    async function* inputs(): AsyncGenerator<number> {
      for (let i = 0; i < 20; i++) {
        pulled++;
        yield i;
      }
    }
    const outputs: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      engine.stream(t, inputs(), { maxInFlight: 3 }).subscribe({
        next: (r) => { finished++; outputs.push(r.output as number); },
        error: reject,
        complete: resolve,
      });
    });
    for (let i = 0; i < 20; i++) {
      await flush();
      expect(pulled - finished).toBeLessThanOrEqual(3);
      expect(gates.active).toBeLessThanOrEqual(3);
      gates.openOldest();
    }
    await done;
    expect(finished).toBe(20);
    expect(outputs.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(gates.peak).toBe(3);
  });
});

// ---------------------------------------------------------------- shared limits and priority

describe('shared limits', () => {
  it('a pool of size 2 used by two nodes in two topologies never has more than 2 running', async () => {
    const gates = new Gates();
    const engine = createEngine({ pools: { llm: 2 } });
    const a = topology('pool-a', { input: z.number() }).map('x', { pool: 'llm', run: ({ input }) => gates.enter(`a${input}`) }).build();
    const b = topology('pool-b', { input: z.number() })
      .map('free', { run: () => 'no pool' })
      .map('y', { after: ['free'], pool: 'llm', run: ({ input }) => gates.enter(`b${input}`) })
      .build();
    const ps: Promise<RunResult<unknown, unknown>>[] = [];
    for (let i = 0; i < 5; i++) ps.push(engine.run(a, i), engine.run(b, i));
    for (let i = 0; i < 10; i++) {
      await flush();
      expect(gates.active).toBeLessThanOrEqual(2);
      expect(gates.active).toBe(2 - Math.max(0, i - 8)); // the pool stays full while work waits
      gates.openOldest();
    }
    const rs = await Promise.all(ps);
    expect(rs.every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(2);
    expect(gates.started.filter((s) => s.startsWith('a'))).toHaveLength(5);
    expect(gates.started.filter((s) => s.startsWith('b'))).toHaveLength(5);
  });

  it('global concurrency bounds tasks across nodes and runs', async () => {
    const gates = new Gates();
    const engine = createEngine({ concurrency: 3 });
    const t = topology('global', { input: z.number() })
      .map('p', { run: ({ input }) => gates.enter(`p${input}`) })
      .map('q', { run: ({ input }) => gates.enter(`q${input}`) })
      .map('r', { after: ['p', 'q'], run: ({ input }) => gates.enter(`r${input}`) })
      .build();
    const ps = Array.from({ length: 5 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 15; i++) {
      await flush();
      expect(gates.active).toBeLessThanOrEqual(3);
      expect(gates.active).toBeGreaterThan(0);
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(3);
    expect(gates.started).toHaveLength(15);
  });

  it('a node cap is shared by every run of the topology', async () => {
    const gates = new Gates();
    const t = topology('cap', { input: z.number() }).map('c', { cap: 2, run: ({ input }) => gates.enter(String(input)) }).build();
    const engine = createEngine();
    const ps = Array.from({ length: 6 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 6; i++) {
      await flush();
      expect(gates.active).toBeLessThanOrEqual(2);
      gates.openOldest();
    }
    await Promise.all(ps);
    expect(gates.peak).toBe(2);
  });

  it('priority: with a pool of 1 held busy, queued high runs start before normal before low', async () => {
    const gates = new Gates();
    const seenPriority = new Map<string, Priority>();
    const engine = createEngine({ pools: { one: 1 } });
    const t = topology('priority', { input: z.string() })
      .map('w', { pool: 'one', run: ({ input, priority }) => { seenPriority.set(input, priority); return gates.enter(input); } })
      .build();
    const ps = [engine.run(t, 'blocker', { priority: 'low' })];
    await flush();
    expect(gates.started).toEqual(['blocker']);
    ps.push(
      engine.run(t, 'low1', { priority: 'low' }),
      engine.run(t, 'normal1'),
      engine.run(t, 'high1', { priority: 'high' }),
      engine.run(t, 'low2', { priority: 'low' }),
      engine.run(t, 'high2', { priority: 'high' }),
      engine.run(t, 'normal2', { priority: 'normal' }),
    );
    await flush();
    expect(gates.started).toEqual(['blocker']);
    for (let i = 0; i < 7; i++) {
      await flush();
      expect(gates.active).toBe(1);
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.started).toEqual(['blocker', 'high1', 'high2', 'normal1', 'normal2', 'low1', 'low2']);
    expect(seenPriority.get('high1')).toBe('high');
    expect(seenPriority.get('normal1')).toBe('normal');
    expect(seenPriority.get('low2')).toBe('low');
  });

  it('aging: a low run is served after agingGrants grants even while high work keeps arriving', async () => {
    const gates = new Gates();
    const engine = createEngine({ pools: { one: 1 }, agingGrants: 3 });
    const t = topology('aging', { input: z.string() }).map('w', { pool: 'one', run: ({ input }) => gates.enter(input) }).build();
    const ps = [engine.run(t, 'blocker')];
    await flush();
    ps.push(engine.run(t, 'LOW', { priority: 'low' }));
    let h = 0;
    for (let i = 0; i < 3; i++) ps.push(engine.run(t, `H${++h}`, { priority: 'high' }));
    // every time one finishes, a new high run arrives: high work never runs out
    for (let i = 0; i < 10; i++) {
      await flush();
      gates.openOldest();
      ps.push(engine.run(t, `H${++h}`, { priority: 'high' }));
    }
    await flush();
    expect(gates.started).toContain('LOW');
    const before = gates.started.slice(1, gates.started.indexOf('LOW'));
    expect(before).toEqual(['H1', 'H2', 'H3']); // passed over exactly agingGrants times, then served
    gates.openAll();
    while (gates.waiting.length || engine.inFlight) {
      await flush();
      gates.openAll();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
  });

  it('aging with the default (16 grants): low is not starved', async () => {
    const gates = new Gates();
    const engine = createEngine({ pools: { one: 1 } });
    const t = topology('aging-default', { input: z.string() }).map('w', { pool: 'one', run: ({ input }) => gates.enter(input) }).build();
    const ps = [engine.run(t, 'blocker')];
    await flush();
    ps.push(engine.run(t, 'LOW', { priority: 'low' }));
    for (let i = 1; i <= 40; i++) ps.push(engine.run(t, `H${i}`, { priority: 'high' }));
    while (!gates.started.includes('LOW')) {
      await flush();
      gates.openOldest();
    }
    const highsBefore = gates.started.indexOf('LOW') - 1;
    expect(highsBefore).toBe(16);
    expect(gates.started.length).toBeLessThan(42); // highs were still waiting when LOW ran
    while (gates.waiting.length || engine.inFlight) {
      await flush();
      gates.openAll();
    }
    await Promise.all(ps);
  });
});

// ---------------------------------------------------------------- shutdown

describe('shutdown', () => {
  it('drain waits for runs in flight; runs started meanwhile or afterwards fail with SHUTTING_DOWN', async () => {
    const gates = new Gates();
    const t = topology('drain', { input: z.string() }).map('w', { run: async ({ input }) => { await gates.enter(input); return input; } }).build({ output: 'w' });
    const engine = createEngine();
    let busComplete = false;
    engine.events$.subscribe({ complete: () => { busComplete = true; } });
    const inFlight = [engine.run(t, 'a'), engine.run(t, 'b')];
    await flush();
    let down = false;
    const stopping = engine.shutdown().then(() => { down = true; });
    await flush();
    expect(down).toBe(false);

    const during = await engine.run(t, 'late');
    expect(during.status).toBe('failed');
    expect(during.error?.code).toBe('SHUTTING_DOWN');
    expect(isRejectedError(during.error)).toBe(true);
    expect(gates.started).toEqual(['a', 'b']);

    gates.openOldest();
    await flush();
    expect(down).toBe(false);
    gates.openOldest();
    await stopping;
    expect(down).toBe(true);
    expect(busComplete).toBe(true);
    const rs = await Promise.all(inFlight);
    expect(rs.map((r) => [r.status, r.output])).toEqual([['completed', 'a'], ['completed', 'b']]);

    const after = await engine.run(t, 'after');
    expect(after.status).toBe('failed');
    expect(after.error?.code).toBe('SHUTTING_DOWN');
    expect(gates.started).toEqual(['a', 'b']);
    expect(engine.inFlight).toBe(0);
  });

  it("mode 'cancel' cancels runs in flight (running and waiting for admission)", async () => {
    const signals: AbortSignal[] = [];
    const t = topology('cancel-all', { input: z.number(), maxInFlight: 2 })
      .map('w', { run: ({ signal }) => { signals.push(signal); return untilAborted(signal); } })
      .build();
    const engine = createEngine();
    const ps = [1, 2, 3].map((n) => engine.run(t, n));
    await flush();
    expect(signals).toHaveLength(2);
    await engine.shutdown({ mode: 'cancel' });
    const rs = await Promise.all(ps);
    expect(rs.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(rs.every((r) => isCancelledError(r.error))).toBe(true);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(signals).toHaveLength(2);
    const late = await engine.run(t, 4);
    expect(late.status).toBe('failed');
    expect(late.error?.code).toBe('SHUTTING_DOWN');
  });

  it('drain with timeoutMs cancels what is left when the time is up', async () => {
    vi.useFakeTimers();
    const t = topology('drain-timeout').map('w', { run: ({ signal }) => untilAborted(signal) }).build();
    const engine = createEngine();
    const p = engine.run(t, undefined);
    await hops();
    let down = false;
    const stopping = engine.shutdown({ timeoutMs: 1000 }).then(() => { down = true; });
    await vi.advanceTimersByTimeAsync(999);
    expect(down).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect((await p).status).toBe('cancelled');
  });

  it('shutdown with nothing in flight resolves at once', async () => {
    const engine = createEngine();
    await engine.shutdown();
    const t = topology('idle').map('a', { run: () => 1 }).build();
    expect((await engine.run(t, undefined)).error?.code).toBe('SHUTTING_DOWN');
  });

  it('invalid shutdown options are rejected naming the field', async () => {
    const engine = createEngine();
    const e = await engine.shutdown({ mode: 'explode' } as never).then(() => undefined, (x: unknown) => x);
    expect(isValidationError(e) && issueAt(e.issues, ['options', 'mode'])).toBeTruthy();
  });
});

// ---------------------------------------------------------------- events

describe('events$', () => {
  const build = (hold: Map<string, Deferred<void>>) =>
    topology('events', { input: z.object({ mode: z.enum(['ok', 'fail', 'hang']) }) })
      .map('a', { run: ({ input }) => input.mode })
      .route('r', { after: ['a'], branches: { left: 'l', right: 'rr' }, select: () => 'left' as 'left' | 'right' })
      .map('l', { run: () => 'L' })
      .map('rr', { run: () => 'R' })
      .map('x', { onError: 'fb', run: () => { throw new Error('handled'); } })
      .map('fb', { run: () => 'fallback' })
      .map('z', {
        after: ['a'],
        run: async ({ input, signal, runId }) => {
          if (input.mode === 'fail') throw new Error('z failed');
          if (input.mode === 'hang') {
            const d = deferred();
            hold.set(runId, d);
            return untilAborted(signal);
          }
          return 'z';
        },
      })
      .build();

  it('every lifecycle event type appears on the bus with runId, seq and ts, matching each result history', async () => {
    const engine = createEngine();
    const bus = record(engine);
    const hold = new Map<string, Deferred<void>>();
    const t = build(hold);
    const ok = await engine.run(t, { mode: 'ok' }, { resume: { outputs: { a: 'ok' } }, runId: 'run-ok' });
    const failed = await engine.run(t, { mode: 'fail' }, { runId: 'run-fail' });
    const ac = new AbortController();
    const hanging = engine.run(t, { mode: 'hang' }, { signal: ac.signal, runId: 'run-hang' });
    await flush();
    ac.abort();
    const cancelled = await hanging;
    await flush();

    expect([ok.status, failed.status, cancelled.status]).toEqual(['completed', 'failed', 'cancelled']);
    expect([ok.runId, failed.runId, cancelled.runId]).toEqual(['run-ok', 'run-fail', 'run-hang']);
    const seen = new Set(bus.map((e) => e.type));
    const all: RunEventType[] = [
      'run.started', 'run.completed', 'run.failed', 'run.cancelled',
      'node.started', 'node.completed', 'node.failed', 'node.skipped', 'node.resumed',
    ];
    for (const type of all) expect(seen, type).toContain(type);
    for (const e of bus) {
      expect(typeof e.runId).toBe('string');
      expect(Number.isInteger(e.seq)).toBe(true);
      expect(typeof e.ts).toBe('number');
      expect(e.topology).toBe('events');
    }
    for (const r of [ok, failed, cancelled]) {
      const mine = bus.filter((e) => e.runId === r.runId);
      expect(mine.map((e) => e.seq)).toEqual(mine.map((_, i) => i));
      expect(mine).toEqual(r.events);
      expect(mine[0]!.type).toBe('run.started');
    }
    expect(ok.events.find((e) => e.type === 'node.resumed')).toMatchObject({ nodeId: 'a', output: 'ok' });
    expect(ok.events.find((e) => e.type === 'node.skipped')).toMatchObject({ nodeId: 'rr' });
    expect(ok.events.at(-1)).toMatchObject({ type: 'run.completed' });
    expect(ok.events.find((e) => e.type === 'run.started')).toMatchObject({ priority: 'normal' });
    expect(failed.events.at(-1)).toMatchObject({ type: 'run.failed', error: { nodeId: 'z', code: 'NODE_FAILED' } });
    expect(cancelled.events.at(-1)).toMatchObject({ type: 'run.cancelled', error: { code: 'CANCELLED' } });
    const handled = ok.events.find((e) => e.type === 'node.failed');
    expect(handled).toMatchObject({ nodeId: 'x', handled: true });
    // events are plain data
    expect(JSON.parse(JSON.stringify(bus.filter((e) => e.type !== 'run.completed')))).toEqual(bus.filter((e) => e.type !== 'run.completed'));
  });

  it('without a subscriber the bus emits nothing, yet results still carry their history', async () => {
    const nextSpy = vi.spyOn(Subject.prototype, 'next');
    const isEvent = (v: unknown): boolean => typeof v === 'object' && v !== null && 'seq' in v && 'type' in v && 'runId' in v;
    const engine = createEngine();
    const t = topology('quiet', { input: z.number() })
      .map('a', { run: ({ input }) => input + 1 })
      .map('b', { after: ['a'], run: async ({ deps }) => deps.a * 2 })
      .build({ output: 'b' });
    const r = await engine.run(t, 1);
    expect(nextSpy.mock.calls.filter((c) => isEvent(c[0]))).toEqual([]);
    expect(r.output).toBe(4);
    expect(types(r)).toEqual(['run.started', 'node.started', 'node.completed', 'node.started', 'node.completed', 'run.completed']);
    expect(r.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);

    // a late subscriber sees no replay, only new runs
    const bus = record(engine);
    expect(bus).toEqual([]);
    const r2 = await engine.run(t, 2);
    expect(bus.map((e) => e.runId)).toEqual(r2.events.map(() => r2.runId));
    expect(nextSpy.mock.calls.filter((c) => isEvent(c[0])).length).toBe(r2.events.length);
  });

  it('child runs of a sub-topology carry parentRunId', async () => {
    const child = topology('child', { input: z.number() }).map('c', { run: ({ input }) => input * 3 }).build({ output: 'c' });
    const parent = topology('parent', { input: z.number() })
      .sub('s', { topology: child, input: ({ input }) => input + 1 })
      .build({ output: 's' });
    const engine = createEngine();
    const bus = record(engine);
    const r = await engine.run(parent, 1);
    expect(r.output).toBe(6);
    const childEvents = bus.filter((e) => e.topology === 'child');
    expect(childEvents.length).toBeGreaterThan(0);
    expect(childEvents.every((e) => e.parentRunId === r.runId && e.runId !== r.runId)).toBe(true);
  });
});

// ---------------------------------------------------------------- resume

describe('resume', () => {
  const build = (calls: string[]) =>
    topology('resume', { input: z.number() })
      .map('a', { run: ({ input }) => { calls.push('a'); return input; } })
      .map('b', { after: ['a'], run: ({ deps }) => { calls.push('b'); return deps.a + 10; } })
      .map('c', { after: ['b'], run: ({ deps }) => { calls.push('c'); return deps.b * 2; } })
      .build({ output: 'c' });

  it('a resumed node is not run again; its output feeds its children', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), 5, { resume: { outputs: { a: 1 } } });
    expect(r.status).toBe('completed');
    expect(calls).toEqual(['b', 'c']);
    expect(r.outputs).toEqual({ a: 1, b: 11, c: 22 });
    expect(r.output).toBe(22);
    expect(r.events.filter((e) => e.type === 'node.resumed').map((e) => (e as { nodeId: string }).nodeId)).toEqual(['a']);
  });

  it('resuming a chain prefix skips every resumed node', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), 5, { resume: { outputs: { a: 1, b: 2 } } });
    expect(calls).toEqual(['c']);
    expect(r.output).toBe(4);
  });

  it('resuming every node completes without running anything', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), 5, { resume: { outputs: { a: 1, b: 2, c: 3 } } });
    expect(r.status).toBe('completed');
    expect(calls).toEqual([]);
    expect(r.output).toBe(3);
  });

  it('resumed skipped route branches stay skipped', async () => {
    const calls: string[] = [];
    const t = topology('resume-route')
      .route('r', { branches: { l: 'left', rr: 'right' }, select: () => { calls.push('r'); return 'l' as 'l' | 'rr'; } })
      .map('left', { run: () => { calls.push('left'); return 'L'; } })
      .map('right', { run: () => { calls.push('right'); return 'R'; } })
      .join('j', { after: ['left', 'right'] })
      .build({ output: 'j' });
    const r = await createEngine().run(t, undefined, { resume: { outputs: { r: 'rr' }, skipped: ['left'] } });
    expect(r.status).toBe('completed');
    expect(calls).toEqual(['right']);
    expect(r.output).toEqual({ right: 'R' });
    expect(r.skipped).toEqual(['left']);
  });

  it('an unknown node fails the run with RESUME_INVALID naming resume.outputs.<id>', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), 5, { resume: { outputs: { zzz: 1 } } });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('RESUME_INVALID');
    expect(r.error).toBeInstanceOf(ValidationError);
    expect(isValidationError(r.error) && issueAt(r.error.issues, ['resume', 'outputs', 'zzz']).message).toContain("'zzz'");
    expect(r.error?.message).toContain('resume.outputs.zzz');
    expect(calls).toEqual([]);
  });

  it('a node resumed without its parent fails with RESUME_INVALID naming the node and parent', async () => {
    const calls: string[] = [];
    const r = await createEngine().run(build(calls), 5, { resume: { outputs: { b: 2 } } });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('RESUME_INVALID');
    const issue = isValidationError(r.error) ? issueAt(r.error.issues, ['resume', 'outputs', 'b']) : undefined;
    expect(issue?.message).toContain("'a'");
    expect(calls).toEqual([]);
  });

  it('an unknown skipped node is named at resume.skipped.K', async () => {
    const r = await createEngine().run(build([]), 5, { resume: { outputs: {}, skipped: ['a', 'nope'] } });
    expect(r.error?.code).toBe('RESUME_INVALID');
    expect(isValidationError(r.error) && issueAt(r.error.issues, ['resume', 'skipped', 1]).message).toContain("'nope'");
  });
});

// ---------------------------------------------------------------- schemas

describe('input and output schemas', () => {
  it('an invalid input fails the run with INPUT_INVALID and input.* paths; no node runs', async () => {
    let calls = 0;
    const t = topology('input-schema', { input: z.object({ q: z.string(), n: z.number().int() }) })
      .map('a', { run: ({ input }) => { calls++; return input.q.repeat(input.n); } })
      .build({ output: 'a' });
    const engine = createEngine();
    const r = await engine.run(t, { q: 1, n: 1.5 } as never);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('INPUT_INVALID');
    expect(r.error?.retriable).toBe(false);
    const paths = isValidationError(r.error) ? r.error.issues.map((i) => i.path) : [];
    expect(paths).toEqual(expect.arrayContaining([['input', 'q'], ['input', 'n']]));
    expect(r.error?.message).toContain('input.q');
    expect(calls).toBe(0);
    expect(types(r)).not.toContain('node.started');
    const good = await engine.run(t, { q: 'ab', n: 2 });
    expect(good.output).toBe('abab');
    expect(engine.inFlight).toBe(0);
  });

  it('the input schema output (defaults, transforms) is what nodes see', async () => {
    const t = topology('input-transform', { input: z.object({ n: z.string().transform(Number), k: z.number().default(7) }) })
      .map('a', { run: ({ input }) => input.n + input.k })
      .build({ output: 'a' });
    expect((await createEngine().run(t, { n: '3' } as never)).output).toBe(10);
  });

  it('a node output schema failure fails with OUTPUT_INVALID; the engine keeps serving other runs', async () => {
    const t = topology('output-schema', { input: z.unknown() })
      .map('m', { output: z.string(), run: ({ input }) => input as string })
      .map('after', { after: ['m'], run: ({ deps }) => deps.m.length })
      .build({ output: 'after' });
    const engine = createEngine();
    const bad = await engine.run(t, 42);
    expect(bad.status).toBe('failed');
    expect(bad.error?.code).toBe('OUTPUT_INVALID');
    expect(isNodeError(bad.error) && bad.error.nodeId).toBe('m');
    expect(isValidationError(bad.error?.cause) && (bad.error.cause as ValidationError).issues[0]!.path).toEqual(['output']);
    expect(bad.outputs).toEqual({});
    const rs = await Promise.all(['abc', 7, 'hello'].map((v) => engine.run(t, v)));
    expect(rs.map((r) => r.status)).toEqual(['completed', 'failed', 'completed']);
    expect(rs[0]!.output).toBe(3);
    expect(rs[2]!.output).toBe(5);
    expect(engine.inFlight).toBe(0);
  });

  it('a route choosing an unknown branch fails with ROUTE_UNKNOWN_BRANCH', async () => {
    const t = topology('bad-branch')
      .route('r', { branches: { a: 'x' }, select: () => 'b' as 'a' })
      .map('x', { run: () => 1 })
      .build();
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('ROUTE_UNKNOWN_BRANCH');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('r');
  });
});

// ---------------------------------------------------------------- options

describe('option validation', () => {
  const bad = (options: unknown): ValidationError => {
    try {
      createEngine(options as never);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return e as ValidationError;
    }
    throw new Error('createEngine did not throw');
  };

  it.each([0, 1.5, -1, '4'])('createEngine({ concurrency: %s }) names options.concurrency', (concurrency) => {
    const e = bad({ concurrency });
    expect(e.code).toBe('OPTIONS_INVALID');
    issueAt(e.issues, ['options', 'concurrency']);
    expect(e.message).toContain('options.concurrency');
  });

  it('bad pools, maxInFlight, agingGrants, logger and unknown keys are named', () => {
    issueAt(bad({ pools: { llm: 0 } }).issues, ['options', 'pools', 'llm']);
    issueAt(bad({ maxInFlight: 0 }).issues, ['options', 'maxInFlight']);
    issueAt(bad({ agingGrants: 2.5 }).issues, ['options', 'agingGrants']);
    issueAt(bad({ logger: {} }).issues, ['options', 'logger']);
    expect(issueAt(bad({ concurency: 2 }).issues, ['options']).message).toContain('concurency');
  });

  it('valid options are accepted', () => {
    expect(() => createEngine({ concurrency: 4, pools: { llm: 2, 'gpu.a': 1 }, maxInFlight: 10, agingGrants: 1, runIdPrefix: 'x-' })).not.toThrow();
  });

  const t = topology('opts', { input: z.number() }).map('a', { run: ({ input }) => input }).build({ output: 'a' });

  it.each<[string, unknown, readonly (string | number)[]]>([
    ['priority', { priority: 'urgent' }, ['options', 'priority']],
    ['deadlineMs', { deadlineMs: 0 }, ['options', 'deadlineMs']],
    ['deadlineMs', { deadlineMs: -5 }, ['options', 'deadlineMs']],
    ['runId', { runId: '' }, ['options', 'runId']],
    ['signal', { signal: 'stop' }, ['options', 'signal']],
    ['resume', { resume: { outputs: 1 } }, ['options', 'resume', 'outputs']],
    ['resume', { resume: { outputs: {}, skipped: 'a' } }, ['options', 'resume', 'skipped']],
  ])('invalid run option %s is a rejected promise with a ValidationError naming it', async (_, options, path) => {
    let calls = 0;
    const counted = topology('opts-counted', { input: z.number() }).map('a', { run: ({ input }) => { calls++; return input; } }).build();
    const engine = createEngine();
    const err = await engine.run(counted, 1, options as never).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(isValidationError(err) && err.code).toBe('OPTIONS_INVALID');
    if (isValidationError(err)) issueAt(err.issues, path);
    expect(calls).toBe(0);
    expect(engine.inFlight).toBe(0);
  });

  it('an unknown run option key is rejected', async () => {
    const err = await createEngine().run(t, 1, { prio: 'high' } as never).then(() => undefined, (e: unknown) => e);
    expect(isValidationError(err) && issueAt(err.issues, ['options']).message).toContain('prio');
  });

  it('a given runId is used', async () => {
    const r = await createEngine().run(t, 1, { runId: 'my-run' });
    expect(r.runId).toBe('my-run');
    expect(r.events.every((e) => e.runId === 'my-run')).toBe(true);
  });

  it('generated run ids use runIdPrefix and are unique', async () => {
    const engine = createEngine({ runIdPrefix: 'job-' });
    const rs = await Promise.all([1, 2, 3].map((n) => engine.run(t, n)));
    expect(rs.every((r) => r.runId.startsWith('job-'))).toBe(true);
    expect(new Set(rs.map((r) => r.runId)).size).toBe(3);
  });

  it('invalid stream options throw a ValidationError naming the field', () => {
    const engine = createEngine();
    expect(() => engine.stream(t, [1], { maxInFlight: 0 })).toThrow(ValidationError);
    try {
      engine.stream(t, [1], { bufferSize: -1 });
    } catch (e) {
      expect(isValidationError(e) && issueAt(e.issues, ['options', 'bufferSize'])).toBeTruthy();
    }
  });
});

// ---------------------------------------------------------------- work of every node kind holds its limits

describe('limits held by joins and fan-out items', () => {
  it('a join holds its pool and the global task slot: pool 1, concurrency 1, 20 runs: one join function at a time', async () => {
    const gates = new Gates();
    const engine = createEngine({ pools: { one: 1 }, concurrency: 1 });
    const t = topology('pooled-join', { input: z.number() })
      .map('a', { run: ({ input }) => input })
      .map('b', { run: ({ input }) => input })
      .join('j', { after: ['a', 'b'], pool: 'one', run: ({ input }) => gates.enter(`j${input}`) })
      .build();
    const ps = Array.from({ length: 20 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 20; i++) {
      await flush();
      expect(gates.active).toBe(1);
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(1);
    expect(gates.started).toHaveLength(20);
  });

  it('a join holds the global task slot shared with map nodes', async () => {
    const gates = new Gates();
    const engine = createEngine({ concurrency: 1 });
    const t = topology('global-join', { input: z.number() })
      .map('a', { run: ({ input }) => gates.enter(`a${input}`) })
      .join('j', { after: ['a'], run: ({ input }) => gates.enter(`j${input}`) })
      .build();
    const ps = Array.from({ length: 5 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 10; i++) {
      await flush();
      expect(gates.active).toBe(1);
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(1);
  });

  it('each fan-out item holds the pool: pool 1 means one item at a time across runs', async () => {
    const gates = new Gates();
    const engine = createEngine({ pools: { one: 1 } });
    const t = topology('pooled-fan', { input: z.number() })
      .fanOut('f', { pool: 'one', itemCap: 4, items: ({ input }) => [0, 1, 2].map((k) => `${input}.${k}`), each: (item) => gates.enter(item) })
      .build();
    const ps = Array.from({ length: 3 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 9; i++) {
      await flush();
      expect(gates.active).toBe(1);
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(1);
    expect(gates.started).toHaveLength(9);
  });

  it('each fan-out item holds a global task slot', async () => {
    const gates = new Gates();
    const engine = createEngine({ concurrency: 2 });
    const t = topology('global-fan', { input: z.number() })
      .fanOut('f', { itemCap: 8, items: ({ input }) => [0, 1, 2, 3].map((k) => `${input}.${k}`), each: (item) => gates.enter(item) })
      .build();
    const ps = Array.from({ length: 2 }, (_, i) => engine.run(t, i));
    for (let i = 0; i < 8; i++) {
      await flush();
      expect(gates.active).toBe(Math.min(2, 8 - i));
      gates.openOldest();
    }
    expect((await Promise.all(ps)).every((r) => r.status === 'completed')).toBe(true);
    expect(gates.peak).toBe(2);
  });
});

// ---------------------------------------------------------------- a timed-out node keeps its slots until its function returns

describe('slots of a timed-out node (virtual time)', () => {
  /** Node functions that ignore their signal and return only when released. */
  class Stubborn {
    running = 0;
    peak = 0;
    started = 0;
    readonly releases: (() => void)[] = [];
    readonly fn = (): Promise<string> => {
      this.started++;
      this.peak = Math.max(this.peak, ++this.running);
      const d = deferred();
      this.releases.push(() => d.resolve());
      return d.promise.then(() => {
        this.running--;
        return 'late';
      });
    };
    releaseOldest(): void {
      this.releases.shift()?.();
    }
  }

  it('cap 1: five timed-out runs never have more than one function running; each run fails at its timeout', async () => {
    vi.useFakeTimers();
    const s = new Stubborn();
    const t = topology('stubborn-cap', { input: z.number() }).map('slow', { cap: 1, timeoutMs: 100, run: s.fn }).build();
    const engine = createEngine();
    const results: RunResult<unknown, unknown>[] = [];
    const ps = Array.from({ length: 5 }, (_, i) => engine.run(t, i).then((r) => void results.push(r)));
    await vi.advanceTimersByTimeAsync(100);
    // the first run failed at its timeout; its function still runs and holds the cap
    expect(results.map((r) => r.error?.code)).toEqual(['TIMEOUT']);
    expect(s.running).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.started).toBe(1);
    for (let k = 1; k < 5; k++) {
      s.releaseOldest();
      await vi.advanceTimersByTimeAsync(0);
      expect(s.started).toBe(k + 1);
      expect(s.running).toBe(1);
      await vi.advanceTimersByTimeAsync(100);
      expect(results).toHaveLength(k + 1);
      expect(results[k]!.error?.code).toBe('TIMEOUT');
    }
    s.releaseOldest();
    await Promise.all(ps);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.peak).toBe(1);
    expect(s.running).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('pool 1: a timed-out function keeps holding its pool until it returns', async () => {
    vi.useFakeTimers();
    const s = new Stubborn();
    const engine = createEngine({ pools: { one: 1 } });
    const t = topology('stubborn-pool', { input: z.number() }).map('slow', { pool: 'one', timeoutMs: 50, run: s.fn }).build();
    const ps = Array.from({ length: 3 }, (_, i) => engine.run(t, i));
    await vi.advanceTimersByTimeAsync(500);
    expect(s.started).toBe(1);
    s.releaseOldest();
    await vi.advanceTimersByTimeAsync(500);
    expect(s.started).toBe(2);
    s.releaseOldest();
    await vi.advanceTimersByTimeAsync(500);
    s.releaseOldest();
    const rs = await Promise.all(ps);
    expect(rs.map((r) => r.error?.code)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    expect(s.peak).toBe(1);
  });

  it('a timeout handled by onError moves the run on at once, while the timed-out function keeps its slot', async () => {
    vi.useFakeTimers();
    const s = new Stubborn();
    const t = topology('stubborn-onerror', { input: z.number() })
      .map('slow', { cap: 1, timeoutMs: 100, onError: 'fb', run: s.fn })
      .map('fb', { run: () => 'fallback' })
      .build({ output: 'fb' });
    const engine = createEngine();
    const first = engine.run(t, 1);
    const second = engine.run(t, 2);
    await vi.advanceTimersByTimeAsync(100);
    const r1 = await first;
    expect(r1.status).toBe('completed');
    expect(r1.output).toBe('fallback');
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.started).toBe(1); // the second run waits for the stage slot
    s.releaseOldest();
    await vi.advanceTimersByTimeAsync(100);
    expect((await second).output).toBe('fallback');
    s.releaseOldest();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.peak).toBe(1);
    // the late output of the timed-out function is ignored
    expect(r1.outputs).toEqual({ fb: 'fallback' });
  });
});

// ---------------------------------------------------------------- node.cancelled and the terminal event

describe('node.cancelled and the last event of a run', () => {
  it('a node aborted because a sibling failed gets node.cancelled before run.failed', async () => {
    const engine = createEngine();
    const bus = record(engine);
    const t = topology('sibling-cancel')
      .map('slow', { run: ({ signal }) => untilAborted(signal) })
      .map('boom', { run: async () => { await Promise.resolve(); throw new Error('boom'); } })
      .build();
    const r = await engine.run(t, undefined);
    await flush();
    expect(r.status).toBe('failed');
    expect(types(r)).toEqual(['run.started', 'node.started', 'node.started', 'node.failed', 'node.cancelled', 'run.failed']);
    const cancelled = r.events.find((e) => e.type === 'node.cancelled');
    expect(cancelled).toMatchObject({ nodeId: 'slow', error: { code: 'CANCELLED', message: expect.stringContaining('boom') } });
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i));
    expect(bus.filter((e) => e.runId === r.runId)).toEqual(r.events);
  });

  it('every running node of a cancelled run gets node.cancelled with the run error, before run.cancelled', async () => {
    const engine = createEngine();
    const bus = record(engine);
    const started = { a: deferred(), b: deferred() };
    const t = topology('cancel-running')
      .map('a', { run: ({ signal }) => (started.a.resolve(), untilAborted(signal)) })
      .map('b', { run: ({ signal }) => (started.b.resolve(), untilAborted(signal)) })
      .map('c', { after: ['a'], run: () => 'never' })
      .build();
    const ac = new AbortController();
    const p = engine.run(t, undefined, { signal: ac.signal });
    await Promise.all([started.a.promise, started.b.promise]);
    ac.abort(new Error('stop'));
    const r = await p;
    await flush();
    expect(types(r)).toEqual(['run.started', 'node.started', 'node.started', 'node.cancelled', 'node.cancelled', 'run.cancelled']);
    const ids = r.events.filter((e) => e.type === 'node.cancelled').map((e) => (e as { nodeId: string }).nodeId);
    expect(ids.sort()).toEqual(['a', 'b']);
    expect(r.events.find((e) => e.type === 'node.cancelled')).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(bus.filter((e) => e.runId === r.runId)).toEqual(r.events);
  });
});

// ---------------------------------------------------------------- graph size never grows the stack

describe('long chains', () => {
  const chain = (n: number, async: boolean) => {
    let b = topology(`chain-${n}-${async ? 'async' : 'sync'}`, { input: z.number() }) as unknown as TopologyBuilderLoose;
    for (let k = 0; k < n; k++) {
      const prev = `n${k - 1}`;
      const run = k === 0 ? ({ input }: NodeContext<number>) => input + 1
        : async ? async ({ deps }: NodeContext<number, Record<string, number>>) => deps[prev]! + 1
          : ({ deps }: NodeContext<number, Record<string, number>>) => deps[prev]! + 1;
      b = b.map(`n${k}`, k === 0 ? { run } : { after: [prev], run });
    }
    return b.build({ output: `n${n - 1}` });
  };

  it('a 10,000-node chain of synchronous map nodes runs without growing the stack', async () => {
    const r = await createEngine().run(chain(10_000, false), 0);
    expect(r.status, String(r.error)).toBe('completed');
    expect(r.output).toBe(10_000);
  });

  it('a 10,000-node chain of async map nodes runs', async () => {
    const r = await createEngine().run(chain(10_000, true), 0);
    expect(r.status, String(r.error)).toBe('completed');
    expect(r.output).toBe(10_000);
  });

  it('a route skipping a 10,000-node chain skips every node without growing the stack', async () => {
    let b = topology('skip-chain')
      .route('r', { branches: { yes: 'n0', no: 'end' }, select: () => 'no' as 'yes' | 'no' })
      .map('end', { run: () => 'end' }) as unknown as TopologyBuilderLoose;
    for (let k = 0; k < 10_000; k++) b = b.map(`n${k}`, k === 0 ? { run: () => 0 } : { after: [`n${k - 1}`], run: () => k });
    const r = await createEngine().run(b.build({ output: 'end' }), undefined);
    expect(r.status, String(r.error)).toBe('completed');
    expect(r.skipped).toHaveLength(10_000);
  });
});

// The chains above are built in loops, so their builder is typed loosely.
interface TopologyBuilderLoose {
  map(id: string, spec: { after?: string[]; run: (ctx: never) => unknown }): TopologyBuilderLoose;
  build(options: { output: string }): Topology;
}

// ---------------------------------------------------------------- synchronous Observable sources

describe('synchronous Observable sources', () => {
  it('an infinite synchronous Observable fails the stream with QUEUE_FULL and returns', async () => {
    const t = topology('infinite', { input: z.number() }).map('a', { run: async ({ input }) => input }).build({ output: 'a' });
    const engine = createEngine();
    const outcome = await new Promise<{ results: number; error: unknown }>((resolve) => {
      let results = 0;
      engine.stream(t, range(0, Infinity), { maxInFlight: 4, bufferSize: 16 }).subscribe({
        next: () => void results++,
        error: (error: unknown) => resolve({ results, error }),
        complete: () => resolve({ results, error: undefined }),
      });
    });
    expect(isRejectedError(outcome.error) && outcome.error.code).toBe('QUEUE_FULL');
    expect(outcome.results).toBe(4); // the runs admitted before the overflow still emit
    expect(engine.inFlight).toBe(0);
  });

  it('an infinite synchronous Observable of synchronous runs stops when the consumer unsubscribes', async () => {
    const t = topology('infinite-sync', { input: z.number() }).map('a', { run: ({ input }) => input }).build({ output: 'a' });
    const engine = createEngine();
    const outputs = await collect(engine.stream(t, range(0, Infinity)).pipe(take(5)));
    expect(outputs.map((r) => r.output)).toEqual([0, 1, 2, 3, 4]);
  });
});
