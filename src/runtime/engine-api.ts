/**
 * What an engine offers its users: the {@link Engine} interface (made by `createEngine`),
 * apart from how the engine does it (engine.ts).
 * @module
 */
import type { Observable } from 'rxjs';
import type { OrchestratorError } from '../errors.ts';
import type { AnyTopology, InputOf, OutputOf, OutputsOf } from '../definition/types.ts';
import type { Models } from '../providers/models.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { EngineEvent } from './events.ts';
import type { ForkOptions } from './fork.ts';
import type { StatRow } from './loop.ts';
import type { CancelOptions, RecoverOptions, RunNodeOptions, RunOptions, ShutdownOptions, StreamOptions } from './options.ts';
import type { RecoveryReport } from './recover.ts';
import type { RunResult } from './result.ts';
import type { RunsView } from './runs.ts';
import type { CancelReceipt, SignalReceipt } from './signals.ts';
import type { InputSource } from './source.ts';
import type { RunStore } from './store.ts';
import type { UsageDim, UsageFilter, UsageRow } from './usage.ts';
/**
 * Result type of running topology `T`.
 *
 * @example
 * ```ts
 * const r: ResultOf<typeof rag> = await engine.run(rag, input);
 * ```
 */
export type ResultOf<T> = RunResult<OutputsOf<T>, OutputOf<T>>;

/**
 * The runs an engine has in flight ({@link Engine.load}).
 *
 * @example
 * ```ts
 * const load: EngineLoad = engine.load(); // { running: 12, queued: 3 }
 * ```
 */
export interface EngineLoad {
  /** Admitted runs (started, or about to). */
  readonly running: number;
  /** Runs waiting for admission. */
  readonly queued: number;
}

/**
 * A running engine. Create with {@link createEngine}.
 *
 * @example
 * ```ts
 * const engine = createEngine();
 * const result = await engine.run(rag, { question: 'Why RxJS?' });
 * engine.stream(rag, questions, { maxInFlight: 8 }).subscribe((r) => console.log(r.status));
 * await engine.shutdown();
 * ```
 */
export interface Engine {
  /** Every lifecycle event and token of every run, as plain data. No subscriber, no allocation. */
  readonly events$: Observable<EngineEvent>;
  /** The engine's model catalogue. */
  readonly models: Models;
  /**
   * Token and cost totals of all finished and running runs: of all runs, of a tenant, or of the
   * calls whose attribution (tenant, user, project, topology, node, model, variant) matches a
   * filter (`null`: not set). An invalid filter throws `OPTIONS_INVALID` naming the field.
   *
   * @example
   * ```ts
   * engine.usage().costUsd;                       // everything
   * engine.usage('acme').calls;                   // tenant acme
   * engine.usage({ tenant: 'acme', project: 'search', model: 'openai:gpt-4o' }).costUsd;
   * ```
   */
  usage(filter?: string | UsageFilter): Readonly<UsageTotals>;
  /**
   * Usage grouped by the given dimensions over the calls matching `filter`, most costly first.
   * Invalid dims or filter throw `OPTIONS_INVALID` naming the field.
   *
   * @example
   * ```ts
   * for (const r of engine.usageBy(['tenant', 'model'], { project: 'search' })) console.log(r.by.tenant, r.by.model, r.totals.costUsd);
   * ```
   */
  usageBy(dims: readonly UsageDim[], filter?: UsageFilter): UsageRow[];
  /** Runs currently admitted or waiting for admission. */
  readonly inFlight: number;
  /**
   * The runs in flight now, split into those admitted (running) and those waiting for admission
   * (queued behind their topology's `maxInFlight`): what load gauges read. Child runs are not counted.
   *
   * @example
   * ```ts
   * const { running, queued } = engine.load();
   * ```
   */
  load(): EngineLoad;
  /**
   * Rolling evaluation statistics of the engine's loop (`createEngine({ loop })`) by topology,
   * variant, model and metric; empty without a loop.
   */
  stats(): readonly StatRow[];
  /** The store every run is recorded in (`createEngine({ store })`); undefined for an engine without one. */
  readonly store: RunStore | undefined;
  /**
   * Runs one input. Resolves with the result, whatever happened to the run; rejects
   * only for invalid arguments (bad options, invalid topology).
   */
  run<T extends AnyTopology>(topology: T, input: InputOf<T>, options?: RunOptions): Promise<ResultOf<T>>;
  /**
   * Runs every input of a source and emits each result as its run ends. Iterables
   * and async iterables are pulled only when a run slot frees (backpressure).
   */
  stream<T extends AnyTopology>(topology: T, source: InputSource<InputOf<T>>, options?: StreamOptions): Observable<ResultOf<T>>;
  /**
   * Executes one node of a topology with its dependencies' outputs given (what a remote
   * worker does for a remote edge). Resolves with the node's output or its error; never rejects.
   */
  runNode(topology: AnyTopology, nodeId: string, input: unknown, deps: Readonly<Record<string, unknown>>, options?: RunNodeOptions):
    Promise<{ readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: OrchestratorError }>;
  /** Compiles (and validates) ahead of the first run. Throws TopologyError when invalid. */
  compile(topology: AnyTopology): void;
  /**
   * Refuses new runs, then drains or cancels the ones in flight. With a store, durable runs
   * still in flight when draining ends (or with `mode: 'cancel'`) are left to be recovered:
   * their cancellation is not recorded and their leases are released. The store stays open.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /**
   * Resumes the stored runs left unfinished by a process that died (needs a `store`).
   * Claims runs of the topologies this engine has registered or compiled whose lease
   * expired or whose owner is a dead process of this host, folds each one's log and
   * relaunches it under the same id: completed nodes' outputs are replayed (recorded as
   * `node.resumed`), skipped nodes stay skipped, nodes that were running run again (an llm
   * node cut mid-stream first gets a `node.restart` with reason `recovered` on the bus).
   * A run recorded under a version this engine does not have fails with `TOPOLOGY_CHANGED`.
   * With `runIds`, only those runs are considered (one run a redelivered request names).
   * Resolves once the runs are relaunched; rejects with a StoreError when the claim fails.
   */
  recover(options?: RecoverOptions): Promise<RecoveryReport>;
  /**
   * Time travel over the store (needs a `store`; without one every call rejects with
   * `STORE_INVALID`): list runs, read a run's row and log, and its state at any `seq` or time.
   */
  readonly runs: RunsView;
  /**
   * Ends a wait: the run waiting for signal `name` goes on with `payload` (validated by the wait
   * node's schema: a ValidationError `SIGNAL_INVALID` names the field). A parked run (engine with
   * a store) gets `run.signalled` appended, then is claimed and resumed in this process, in
   * whatever process parked it and however long ago (its topology must be registered: see
   * `topologies`). Rejects with StoreError `RUN_NOT_FOUND` for an unknown stored run, WaitError
   * `RUN_NOT_WAITING` for a run not waiting (or, without a store, not waiting in memory) and
   * `WAIT_NAME_MISMATCH` for another wait's name.
   */
  signal(runId: string, name: string, payload: unknown): Promise<SignalReceipt>;
  /**
   * Cancels a run by id, wherever it stands. In flight in this engine (running, queued, or waiting
   * in memory): it ends `cancelled` now, its running nodes aborted, as its own AbortSignal would
   * (its caller gets the result). Parked in the store (engine with a store; its topology
   * registered): the cancellation is recorded as the end of its wait, then the run is claimed and
   * ends `cancelled` here (`receipt.result`); if this process dies in between, whoever resumes it
   * cancels it. Left running by a dead process (its lease free): claimed and ended `cancelled`.
   * Running in another live process: the request is stored (`store.requestCancel`), and that
   * process cancels the run at its next lease renewal, within a third of its `leaseMs`
   * (`receipt.requestedOf` names it), or whoever recovers the run if it dies first.
   * Nodes never run again and compensations do not run (as for any cancellation). Rejects with
   * StoreError `RUN_NOT_FOUND` for an unknown run, `RUN_NOT_CANCELLABLE` for a run that ended,
   * `TOPOLOGY_CHANGED` for an unregistered version.
   *
   * @example
   * ```ts
   * const receipt = await engine.cancel('post-1', { reason: 'the customer withdrew' });
   * console.log((await receipt.result)?.error?.message); // 'run cancelled: the customer withdrew'
   * ```
   */
  cancel(runId: string, options?: CancelOptions): Promise<CancelReceipt>;
  /**
   * Forks a stored run (needs a `store`): a new run (new id, `forkOf: { runId, nodeId }` in its
   * row) runs node `from` and everything downstream of it again; every other node's output is
   * taken from the parent's log (recorded as `node.resumed`; no model calls). `overrides` change
   * the input, pin outputs, or give llm nodes another model or prompt. Resolves with the fork's
   * result; rejects for a bad option (ValidationError `FORK_INVALID` naming it), an unknown run
   * (`RUN_NOT_FOUND`) or an unregistered version (`TOPOLOGY_CHANGED`).
   */
  fork(runId: string, options: ForkOptions): Promise<RunResult>;
}

