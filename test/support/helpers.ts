/**
 * Shared test helpers: deferreds, microtask flushing, result collection, and a
 * conformance suite every operator runs (never / empty / single / many / error /
 * sync throw / early unsubscribe), driven by an {@link OperatorHarness}.
 *
 * Nothing here waits on wall-clock time: asynchrony is driven by deferreds and
 * by draining the microtask queue.
 */
import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { EMPTY, lastValueFrom, NEVER, take, toArray, type Observable } from 'rxjs';
import { createEngine, isNodeError, isValidationError, type AnyTopology, type Engine, type RunEvent, type RunResult } from '../../src/index.ts';

/** A promise with its settle functions exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending microtask (and promise chain) run: resolves on the next macrotask turn. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yields `n` microtask hops (0: returns a resolved promise). */
export async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Collects every value of a finite observable. */
export function collect<T>(o: Observable<T>): Promise<T[]> {
  return lastValueFrom(o.pipe(toArray()));
}

/** A promise that never settles on its own and rejects with the signal's reason once it aborts. */
export function untilAborted(signal: AbortSignal, onAbort?: () => void): Promise<never> {
  return new Promise<never>((_, reject) => {
    const abort = (): void => {
      onAbort?.();
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

/** Sorts a copy by the JSON form of each element (for order-insensitive comparisons). */
export function sortedByJson<T>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => {
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  });
}

/** Records the lifecycle events of an engine's bus until `stop` is called. */
export function recordEvents(engine: Engine): { readonly events: RunEvent[]; stop(): void } {
  const events: RunEvent[] = [];
  // Only lifecycle events (they carry `seq`); the bus may carry other kinds too (e.g. tokens).
  const sub = engine.events$.subscribe((e: BusEvent) => {
    if ('seq' in e) events.push(e as RunEvent);
  });
  return { events, stop: () => sub.unsubscribe() };
}

/** Whatever the engine's bus carries. */
type BusEvent = Engine['events$'] extends Observable<infer E> ? E : never;

/**
 * The user callback under test. It receives the run's numeric input (or the value
 * the operator derives from it) and the node's signal. The conformance suite passes
 * behaviours that return `n * 10` (sync or async), throw, reject, or wait for abort.
 */
export type Behaviour = (n: number, signal: AbortSignal) => unknown;

/** How the conformance suite drives one operator. */
export interface OperatorHarness {
  /** Builds a topology (input: a number) whose operator under test calls `behaviour` for run input `n`. */
  build(behaviour: Behaviour): AnyTopology;
  /** The run output expected for input `n` when `behaviour(n)` returned `n * 10`. */
  expected(n: number): unknown;
  /** Id of the node that must be named by the NodeError when `behaviour` fails. */
  readonly nodeId: string;
}

/** Chains `f` after a value that may be a promise, keeping sync values (and sync throws) sync. */
export function andThen<T, R>(value: T | PromiseLike<T>, f: (v: T) => R): R | Promise<R> {
  if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function') {
    return Promise.resolve(value).then(f);
  }
  return f(value as T);
}

function expectNodeFailure(r: RunResult<unknown, unknown>, nodeId: string, message: string): void {
  expect(r.status).toBe('failed');
  expect(isNodeError(r.error)).toBe(true);
  if (isNodeError(r.error)) expect(r.error.nodeId).toBe(nodeId);
  expect(r.error?.message).toContain(message);
}

/**
 * Registers the behaviour every operator shares, as `it` blocks in the current
 * `describe`: never, empty, single, many, error (reject), synchronous throw, and
 * early unsubscribe cancelling the remaining runs.
 */
export function operatorConformance(h: OperatorHarness): void {
  it('never: a source that never emits yields nothing and can be unsubscribed', async () => {
    let calls = 0;
    const engine = createEngine();
    const t = h.build((n) => {
      calls++;
      return n * 10;
    });
    const results: unknown[] = [];
    let completed = false;
    const sub = engine.stream(t, NEVER).subscribe({ next: (r) => results.push(r), complete: () => { completed = true; } });
    await flush();
    expect(results).toEqual([]);
    expect(completed).toBe(false);
    expect(calls).toBe(0);
    sub.unsubscribe();
    expect(sub.closed).toBe(true);
    expect(engine.inFlight).toBe(0);
  });

  it('empty: an empty source completes with no results', async () => {
    let calls = 0;
    const engine = createEngine();
    const t = h.build((n) => {
      calls++;
      return n * 10;
    });
    expect(await collect(engine.stream(t, []))).toEqual([]);
    expect(await collect(engine.stream(t, EMPTY))).toEqual([]);
    expect(await collect(engine.stream(t, (function* () {})()))).toEqual([]);
    expect(calls).toBe(0);
  });

  it('single: one run completes with the expected output (run and stream)', async () => {
    const engine = createEngine();
    const t = h.build((n) => n * 10);
    const r = await engine.run(t, 3);
    expect(r.status).toBe('completed');
    expect(r.output).toEqual(h.expected(3));
    const streamed = await collect(engine.stream(t, [4]));
    expect(streamed).toHaveLength(1);
    expect(streamed[0]!.status).toBe('completed');
    expect(streamed[0]!.output).toEqual(h.expected(4));
  });

  it('many: every run of a stream completes (order-insensitive)', async () => {
    const engine = createEngine();
    const t = h.build(async (n) => {
      await hops((n * 7) % 5); // finish out of input order
      return n * 10;
    });
    const inputs = Array.from({ length: 20 }, (_, i) => i);
    const results = await collect(engine.stream(t, inputs, { maxInFlight: 4 }));
    expect(results).toHaveLength(inputs.length);
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(sortedByJson(results.map((r) => r.output))).toEqual(sortedByJson(inputs.map((n) => h.expected(n))));
    expect(new Set(results.map((r) => r.runId)).size).toBe(inputs.length);
  });

  it('error: a rejecting callback fails its run with a NodeError naming the node; other runs complete', async () => {
    const engine = createEngine();
    const t = h.build(async (n) => {
      await hops(1);
      if (n === 2) throw new Error('rejected two');
      return n * 10;
    });
    const results = await collect(engine.stream(t, [1, 2, 3]));
    expect(results).toHaveLength(3);
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(1);
    expectNodeFailure(failed[0]!, h.nodeId, 'rejected two');
    const ok = results.filter((r) => r.status === 'completed');
    expect(sortedByJson(ok.map((r) => r.output))).toEqual(sortedByJson([h.expected(1), h.expected(3)]));
    const single = await engine.run(t, 2);
    expectNodeFailure(single, h.nodeId, 'rejected two');
  });

  it('sync throw: a callback that throws synchronously fails only its run', async () => {
    const engine = createEngine();
    const t = h.build((n) => {
      if (n === 2) throw new Error('thrown two');
      return n * 10;
    });
    const results = await collect(engine.stream(t, [1, 2, 3]));
    expect(results.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'failed']);
    expectNodeFailure(results.find((r) => r.status === 'failed')!, h.nodeId, 'thrown two');
    const single = await engine.run(t, 2);
    expectNodeFailure(single, h.nodeId, 'thrown two');
  });

  it('early unsubscribe: take(1) cancels the remaining runs, whose callbacks see ctx.signal aborted', async () => {
    const engine = createEngine();
    const rec = recordEvents(engine);
    const started = new Set<number>();
    const aborted = new Set<number>();
    const t = h.build((n, signal) => {
      started.add(n);
      if (n === 0) return hops(2).then(() => 0);
      return untilAborted(signal, () => aborted.add(n));
    });
    const results = await collect(engine.stream(t, [0, 1, 2, 3, 4], { maxInFlight: 5 }).pipe(take(1)));
    await flush();
    rec.stop();
    expect(results).toHaveLength(1);
    expect(results[0]!.status).toBe('completed');
    expect(results[0]!.output).toEqual(h.expected(0));
    expect([...started].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...aborted].sort()).toEqual([1, 2, 3, 4]);
    expect(engine.inFlight).toBe(0);
    const topRuns = (type: RunEvent['type']): number => rec.events.filter((e) => e.type === type && e.parentRunId === undefined).length;
    expect(topRuns('run.cancelled')).toBe(4);
    expect(topRuns('run.completed')).toBe(1);
  });
}

/**
 * The dotted paths of the issues of the ValidationError `f` throws (fails the test when it throws none).
 *
 * @example
 * ```ts
 * expect(issuePaths(() => createBandit({ arms: [] }))).toEqual(['options.arms']);
 * ```
 */
export function issuePaths(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (isValidationError(e)) return e.issues.map((i) => i.path.join('.'));
    throw e;
  }
  throw new Error('expected a ValidationError');
}

/**
 * A port on 127.0.0.1 that nothing listens on (connections are refused).
 *
 * @example
 * ```ts
 * const port = await closedPort(); // OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${port}
 * ```
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
