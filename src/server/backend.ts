/**
 * Where the server's runs execute. The API does not care: the local backend runs
 * them in this process on an engine (the embedded default), the Kafka backend sends
 * them to a worker group. Both record runs in a store the server reads for history,
 * lists and stream resume; the backend adds what only it knows while a run is in
 * flight: its live events (tokens included), cancelling it, and its result.
 * @module
 */
import { Subject, type Observable, EMPTY } from 'rxjs';
import type { AnyTopology } from '../definition/types.ts';
import type { Engine } from '../runtime/engine.ts';
import type { EngineEvent } from '../runtime/events.ts';
import type { ForkOptions } from '../runtime/fork.ts';
import type { RunResult } from '../runtime/result.ts';
import { cancelledBy } from '../runtime/cancelled.ts';
import { serializeError, type SerializedError } from '../errors.ts';
import type { UsageTotals } from '../providers/types.ts';

/**
 * How a run ended (or parked), as plain data: what `POST /v1/runs` with `wait` answers.
 *
 * @example
 * ```ts
 * const outcome: RunOutcome = await backend.start(start).done;
 * if (outcome.status === 'completed') console.log(outcome.output);
 * ```
 */
export interface RunOutcome {
  readonly runId: string;
  readonly topology: string;
  readonly status: 'completed' | 'failed' | 'cancelled' | 'waiting';
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly usage?: UsageTotals;
  readonly startedAt?: number;
  readonly endedAt?: number;
}

/**
 * A result of the engine as a {@link RunOutcome}.
 *
 * @example
 * ```ts
 * const outcome = outcomeOf(await engine.run(rag, input));
 * ```
 */
export function outcomeOf(r: RunResult): RunOutcome {
  const { usage } = r;
  return {
    runId: r.runId, topology: r.topology, status: r.status,
    ...(r.status === 'completed' ? { output: r.output } : { error: serializeError(r.error) }),
    usage: {
      inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedTokens: usage.cachedTokens,
      reasoningTokens: usage.reasoningTokens, costUsd: usage.costUsd, calls: usage.calls,
    },
    startedAt: r.startedAt, endedAt: r.endedAt,
  };
}

/**
 * What a run is started with, after the API validated and authorised it.
 *
 * @example
 * ```ts
 * const start: StartRun = { topology: 'rag', input: { question: 'why?' }, runId: 'r-1', tenant: 'acme' };
 * ```
 */
export interface StartRun {
  readonly topology: string;
  readonly input: unknown;
  readonly runId: string;
  readonly tenant: string;
  readonly user?: string;
  readonly project?: string;
}

/**
 * A run the backend accepted: `done` settles with its result (never rejects).
 *
 * @example
 * ```ts
 * const { runId, done } = backend.start(start);
 * const result = await done;
 * ```
 */
export interface StartedRun {
  readonly runId: string;
  readonly done: Promise<RunOutcome>;
}

/**
 * Where runs execute; see {@link createLocalBackend}.
 *
 * @example
 * ```ts
 * const started = backend.start({ topology: 'rag', input, runId, tenant: 'acme' });
 * backend.live(started.runId).subscribe((e) => console.log(e.type));
 * ```
 */
export interface RunBackend {
  /** `local` (this process) or `kafka` (a worker group). */
  readonly kind: 'local' | 'kafka';
  /** The topologies it runs, by name. */
  readonly topologies: ReadonlyMap<string, AnyTopology>;
  /** Starts a run. Throws a ValidationError for bad input the engine refuses up front. */
  start(run: StartRun): StartedRun;
  /**
   * Events of a run in flight that this backend started or resumed, from now on, tokens
   * included; completes when the run ends. Empty for runs it does not hold (read the store).
   */
  live(runId: string): Observable<EngineEvent>;
  /** Whether this backend holds the run in flight now. */
  holds(runId: string): boolean;
  /**
   * Cancels a run: one it holds in flight, or (a local backend on an engine with a store) a
   * stored run that is parked or was left running by a dead process (see `Engine.cancel`, whose
   * errors it rejects with). Resolves false when it can cancel neither; `requestedOf` names the
   * process asked to cancel a run it holds (it does at its next lease renewal).
   */
  cancel(runId: string, reason?: string): Promise<false | { readonly requestedOf?: string }>;
  /** Sends a signal to a waiting run (see `Engine.signal`). */
  signal(runId: string, name: string, payload: unknown): Promise<void>;
  /** Forks a stored run (see `Engine.fork`); `done` settles with the fork's result. */
  fork(runId: string, options: ForkOptions): StartedRun;
  /**
   * Calls `listener` with the id of every run it starts holding (started, forked, resumed),
   * before the run's first event, so a watcher can subscribe to `live` in time for all of
   * them; returns the function that stops it. Optional: without it, the stream hub follows
   * a run from its first client on.
   */
  onStart?(listener: (runId: string) => void): () => void;
  /** Ready to take runs (a Kafka backend: connected). */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * Runs on an engine in this process. The engine should have a store (the server reads
 * run history from it); its registered topologies are the ones served.
 *
 * @example
 * ```ts
 * const backend = createLocalBackend(engine, [rag]);
 * ```
 */
export function createLocalBackend(engine: Engine, topologies: readonly AnyTopology[]): RunBackend {
  const byName = new Map(topologies.map((t) => [t.name, t] as const));
  const flights = new Map<string, { readonly events: Subject<EngineEvent>; readonly abort: AbortController }>();
  // One subscription to the engine's bus, dispatched by run id: fan-out costs one map lookup per event.
  const bus = engine.events$.subscribe((e) => {
    const { runId, parentRunId } = e as { runId?: unknown; parentRunId?: unknown };
    if (typeof runId !== 'string') return;
    const f = flights.get(runId) ?? (typeof parentRunId === 'string' ? flights.get(parentRunId) : undefined);
    f?.events.next(e);
  });
  const listeners = new Set<(runId: string) => void>();
  const track = (runId: string, run: (signal: AbortSignal) => Promise<RunResult>): StartedRun => {
    const flight = { events: new Subject<EngineEvent>(), abort: new AbortController() };
    flights.set(runId, flight);
    for (const l of listeners) l(runId);
    // The run begins on the next microtask: a caller subscribing to live() right after start()
    // sees every event, also of a run that would end within start() (synchronous nodes).
    const done = Promise.resolve().then(() => run(flight.abort.signal)).then(outcomeOf, (e: unknown): RunOutcome => ({
      runId, topology: '', status: 'failed', error: serializeError(e),
    })).finally(() => {
      flights.delete(runId);
      flight.events.complete();
    });
    return { runId, done };
  };
  return {
    kind: 'local',
    topologies: byName,
    start(r) {
      const t = byName.get(r.topology);
      if (t === undefined) throw new Error(`unknown topology ${r.topology}`);
      return track(r.runId, (signal) => engine.run(t, r.input as never, {
        runId: r.runId, tenant: r.tenant, signal,
        ...(r.user === undefined ? {} : { user: r.user }),
        ...(r.project === undefined ? {} : { project: r.project }),
      }) as Promise<RunResult>);
    },
    live: (runId) => flights.get(runId)?.events.asObservable() ?? EMPTY,
    holds: (runId) => flights.has(runId),
    async cancel(runId, reason) {
      const f = flights.get(runId);
      if (f !== undefined) {
        f.abort.abort(cancelledBy(reason));
        return {};
      }
      if (engine.store === undefined) return false;
      const receipt = await engine.cancel(runId, reason === undefined ? {} : { reason });
      if (receipt.result !== undefined && !flights.has(runId)) track(runId, () => receipt.result!);
      return receipt.requestedOf === undefined ? {} : { requestedOf: receipt.requestedOf };
    },
    async signal(runId, name, payload) {
      const receipt = await engine.signal(runId, name, payload);
      if (receipt.result !== undefined && !flights.has(runId)) track(runId, () => receipt.result!);
    },
    fork(runId, options) {
      const id = options.runId ?? crypto.randomUUID();
      return track(id, () => engine.fork(runId, { ...options, runId: id }));
    },
    onStart(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    ready: () => true,
    async close() {
      listeners.clear();
      bus.unsubscribe();
      for (const f of flights.values()) f.events.complete();
    },
  };
}
