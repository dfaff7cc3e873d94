/**
 * The engine: compiles topologies once, admits runs (single or streamed; each
 * run starts in launch.ts), enforces the shared limits (global task slots, named
 * pools, priority), and publishes every lifecycle event on one bus.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import { silentLogger } from '../logger.ts';
import { CancelledError, StoreError, TopologyError, ValidationError, type OrchestratorError } from '../errors.ts';
import type { AnyTopology, InputOf, RemoteExecutor, Topology } from '../definition/types.ts';
import { createModels, type Models } from '../providers/models.ts';
import type { UsageTotals } from '../providers/types.ts';
import { onAbort } from '../primitives/abort.ts';
import { Resilience } from '../resilience/resilience.ts';
import { Compiled } from './compiled.ts';
import { Core } from './core.ts';
import { Durable, processOwner } from './durable.ts';
import type { ForkOptions } from './fork.ts';
import { Waits } from './park.ts';
import { createRunsView, type RunsView } from './runs.ts';
import { cancelledBy } from './cancelled.ts';
import { Signals, type CancelReceipt, type SignalReceipt } from './signals.ts';
import type { EngineEvent } from './events.ts';
import { Limits } from './limits.ts';
import { Guards } from './guard.ts';
import type { Guard } from '../definition/guard.ts';
import {
  CancelOptionsSchema, EngineOptionsSchema, RecoverOptionsSchema, RunNodeOptionsSchema, RunOptionsSchema, ShutdownOptionsSchema, StreamOptionsSchema, parseOptions,
  type CancelOptions, type EngineOptions, type ParsedRunOptions, type RecoverOptions, type RunNodeOptions, type RunOptions, type ShutdownOptions, type StreamOptions,
} from './options.ts';
import { Plan } from './plan.ts';
import type { RecoveryReport } from './recover.ts';
import { resultOf, type RunResult } from './result.ts';
import { Run } from './run.ts';
import { Services } from './services.ts';
import { admit, type InputSource } from './source.ts';
import { LEVELS, R_CANCELLED, R_COMPLETED } from './states.ts';
import type { RunStore } from './store.ts';
import { UsageBook, type UsageDim, type UsageFilter, type UsageRow } from './usage.ts';
import { ownVersions, versionClash } from './version.ts';
import type { RunLoop, StatRow } from './loop.ts';
import { forkRun, recoverRuns, relaunchRun, type RelaunchHost } from './relaunch.ts';
import type { Engine, EngineLoad, ResultOf } from './engine-api.ts';
import { launchRun, type LaunchHost } from './launch.ts';

export type { CancelOptions, DurableOptions, EngineOptions, RecoverOptions, ResumeOptions, RunNodeOptions, RunOptions, ShutdownOptions, StreamOptions } from './options.ts';
export type { RecoveryReport } from './recover.ts';
export type { ForkOptions } from './fork.ts';
export type { RunsView, StateAt, HistoryRange } from './runs.ts';
export type { CancelReceipt, SignalReceipt } from './signals.ts';

export type { Engine, EngineLoad, ResultOf } from './engine-api.ts';

/**
 * Creates an engine. Throws {@link ValidationError} naming the bad option.
 *
 * @example
 * ```ts
 * const engine = createEngine({ pools: { openai: 8 } });
 * ```
 */
export function createEngine(options: EngineOptions = {}): Engine {
  parseOptions(EngineOptionsSchema, options, 'createEngine options');
  return new EngineImpl(options);
}

class EngineImpl implements Engine {
  readonly models: Models;
  readonly events$: Observable<EngineEvent>;
  readonly #core: Core;
  readonly #limits: Limits;
  readonly #book = new UsageBook();
  readonly #services: Services;
  readonly #remote: RemoteExecutor | undefined;
  readonly #maxInFlight: number;
  readonly #compiled = new WeakMap<Topology, Compiled>();
  readonly #all = new Set<Compiled>();
  readonly #durable: Durable | undefined;
  readonly #waits: Waits;
  readonly #signals: Signals;
  readonly #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly #loop: RunLoop | undefined;
  /** What starting a run needs of this engine (launch.ts). */
  readonly #launcher: LaunchHost;
  readonly runs: RunsView;
  #host: RelaunchHost | undefined;

  constructor(options: EngineOptions) {
    const log = (options.logger ?? silentLogger).child({ component: 'engine' });
    const core = new Core(log, options.runIdPrefix ?? `${randomUUID().slice(0, 8)}-`);
    this.#core = core;
    this.events$ = core.bus.asObservable();
    const g = options.guard;
    const guards = g === undefined ? undefined : new Guards(Array.isArray(g) ? g : [g as Guard], log);
    this.#limits = new Limits(options.concurrency, options.pools ?? {}, options.agingGrants ?? 16, guards?.weighs === true ? (t) => guards.weight(t) : undefined);
    this.#maxInFlight = options.maxInFlight ?? 1024;
    this.#remote = options.remote;
    this.models = options.models ?? createModels();
    const resilience = new Resilience(options.resilience ?? {}, (model, state) => {
      log.info({ model, state }, 'circuit breaker state changed');
      if (core.bus.observed) core.bus.next({ type: 'breaker.state', model, state, ts: Date.now() });
    });
    const d = options.durable ?? {};
    this.#durable = options.store === undefined ? undefined
      : new Durable({ store: options.store, owner: d.owner ?? processOwner(), leaseMs: d.leaseMs ?? 15_000, now: d.now ?? Date.now }, core, log);
    this.#waits = new Waits(core, this.#durable, log);
    this.#services = new Services(core, this.#book, resilience, this.models, (t) => this.#compileForRuns(t), this.#waits, guards);
    this.runs = createRunsView(options.store);
    this.#signals = new Signals({
      durable: this.#durable,
      versions: () => this.#versions(),
      relaunch: (rec, onEnd, stop) => relaunchRun(this.#relaunchHost(this.#durable!), rec, this.#versions().get(rec.topology), stop, (r) => onEnd(resultOf(r))),
    }, this.#waits);
    // one sweeper per engine: wakes parked runs whose wait timed out (and signalled runs left unclaimed)
    this.#sweeper = this.#durable === undefined || d.sweepMs === undefined ? undefined
      : setInterval(() => void this.recover({ wake: true }).catch((e: unknown) => log.warn({ err: e }, 'sweeping parked runs failed')), d.sweepMs);
    this.#sweeper?.unref?.();
    for (const t of options.topologies ?? []) this.#compileForRuns(t);
    this.#loop = options.loop;
    this.#launcher = { core, durable: this.#durable, loop: options.loop, guards };
    options.loop?.attach?.({ emit: (e) => { if (core.bus.observed) core.bus.next(e); } });
  }

  stats(): readonly StatRow[] {
    return this.#loop?.stats() ?? [];
  }

  usage(filter?: string | UsageFilter): Readonly<UsageTotals> {
    return filter === undefined || typeof filter === 'string' ? this.#book.totals(filter) : this.#book.matching(filter);
  }

  usageBy(dims: readonly UsageDim[], filter?: UsageFilter): UsageRow[] {
    return this.#book.usageBy(dims, filter);
  }

  get inFlight(): number {
    return this.#core.active.size;
  }

  load(): EngineLoad {
    let queued = 0;
    for (const c of this.#all) queued += c.admission.queued;
    return { running: Math.max(0, this.#core.active.size - queued), queued };
  }

  get store(): RunStore | undefined {
    return this.#durable?.store;
  }

  compile(t: AnyTopology): void {
    this.#compileForRuns(t);
  }

  /** Compiles for starting runs: also refuses what only single-node execution may ignore. */
  #compileForRuns(t: Topology): Compiled {
    const c = this.#compileGraph(t);
    if (c.plan.runIssues.length > 0) throw new TopologyError(c.plan.name, c.plan.runIssues);
    return c;
  }

  #compileGraph(t: Topology): Compiled {
    let c = this.#compiled.get(t);
    if (c === undefined) {
      const clash = t.version === undefined ? undefined : versionClash(t, [...this.#all].map((k) => k.plan.topology));
      if (clash !== undefined) throw new TopologyError(t.name, [clash]);
      const limits = this.#limits;
      const plan = new Plan(t, { models: this.models, limits, hasRemote: this.#remote !== undefined, defaultMaxInFlight: this.#maxInFlight });
      c = new Compiled(plan, this.#core, this.#services, this.#remote, limits.agingGrants, limits.weight);
      this.#compiled.set(t, c);
      this.#all.add(c);
    }
    return c;
  }

  run<T extends AnyTopology>(topology: T, input: InputOf<T>, options?: RunOptions): Promise<ResultOf<T>> {
    try {
      const c = this.#compileForRuns(topology);
      const opts = options === undefined ? undefined : parseOptions(RunOptionsSchema, options, 'run options');
      return new Promise((resolve) => {
        launchRun(this.#launcher, c, input, opts, (run) => resolve(resultOf(run)));
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  runNode(
    topology: AnyTopology, nodeId: string, input: unknown, deps: Readonly<Record<string, unknown>>,
    options: RunNodeOptions = {},
  ): Promise<{ readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: OrchestratorError }> {
    parseOptions(RunNodeOptionsSchema, options, 'runNode options');
    const c = this.#compileGraph(topology);
    const i = c.plan.indexOf(nodeId);
    if (i === undefined) {
      return Promise.resolve({ ok: false, error: new ValidationError('UNKNOWN_NODE', `topology '${c.plan.name}' has no node '${nodeId}'`, [{ code: 'unknown_node', path: ['nodeId'], message: `unknown node '${nodeId}'` }]) });
    }
    const core = this.#core;
    return new Promise((resolve) => {
      const run = new Run(core.nextId(), c.plan, input, LEVELS[options.priority ?? 'normal'], options.deadline ?? Infinity, undefined, (r) => {
        resolve(r.status === R_COMPLETED ? { ok: true, output: r.outputs[i] } : { ok: false, error: r.error ?? new CancelledError('node run ended') });
      });
      if (options.traceContext !== undefined) run.traceContext = options.traceContext;
      core.active.add(run);
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) return core.finish(run, R_CANCELLED, new CancelledError('cancelled by its signal', signal.reason));
        run.cleanup = onAbort(signal, (reason) => core.finish(run, R_CANCELLED, new CancelledError('cancelled by its signal', reason)));
      }
      c.beginSingle(run, i, deps);
    });
  }

  stream<T extends AnyTopology>(topology: T, source: InputSource<InputOf<T>>, options?: StreamOptions): Observable<ResultOf<T>> {
    const c = this.#compileForRuns(topology);
    const opts = options === undefined ? {} : parseOptions(StreamOptionsSchema, options, 'stream options');
    const limit = Math.min(opts.maxInFlight ?? c.plan.maxInFlight, c.plan.maxInFlight);
    const runOpts: ParsedRunOptions = { priority: opts.priority, deadlineMs: opts.deadlineMs, tenant: opts.tenant };
    return admit<InputOf<T>, ResultOf<T>>(source, { limit, bufferSize: opts.bufferSize ?? 1024 }, (input, done) => {
      const run = launchRun(this.#launcher, c, input, runOpts, (r) => done(resultOf(r)));
      return () => this.#core.finish(run, R_CANCELLED, new CancelledError('stream unsubscribed'));
    });
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { mode = 'drain', timeoutMs = 30_000 } = parseOptions(ShutdownOptionsSchema, options, 'shutdown options');
    const core = this.#core;
    core.closing = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    const durable = this.#durable;
    const cancelAll = (): void => {
      // durable runs in flight are left to be recovered, not recorded as cancelled
      if (durable !== undefined) void durable.close();
      core.cancelling = true;
      for (const run of [...core.active]) core.finish(run, R_CANCELLED, new CancelledError('engine shut down'));
    };
    if (mode === 'cancel') cancelAll();
    if (core.active.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(cancelAll, timeoutMs);
        timer.unref?.();
        core.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (durable !== undefined) await durable.close();
    for (const c of this.#all) c.close();
    core.bus.complete();
  }

  async recover(options: RecoverOptions = {}): Promise<RecoveryReport> {
    const opts = parseOptions(RecoverOptionsSchema, options, 'recover options');
    if (this.#durable === undefined) throw new StoreError('STORE_INVALID', 'recover() needs an engine with a store (createEngine({ store }))');
    return recoverRuns(this.#relaunchHost(this.#durable), opts);
  }

  /** What recover and fork need of this engine. */
  #relaunchHost(durable: Durable): RelaunchHost {
    return this.#host ??= { durable, core: this.#core, versions: () => this.#versions(), launch: (...a) => launchRun(this.#launcher, ...a) };
  }

  /** The runnable compiled topologies, by name then version. */
  #versions(): Map<string, Map<string, Compiled>> {
    const byName = new Map<string, Map<string, Compiled>>();
    const runnable = [...this.#all].filter((c) => c.plan.runIssues.length === 0);
    const add = (c: Compiled, vs: readonly string[]): void => {
      let versions = byName.get(c.plan.name);
      if (versions === undefined) byName.set(c.plan.name, versions = new Map());
      for (const v of vs) if (!versions.has(v)) versions.set(v, c);
    };
    // each definition under its own versions (yours, the v2 hash, the v1 one earlier releases recorded), then,
    // where no definition has that version, under the versions it declares it resumes
    for (const c of runnable) add(c, ownVersions(c.plan.topology));
    for (const c of runnable) add(c, c.plan.topology.resumes ?? []);
    return byName;
  }

  async cancel(runId: string, options: CancelOptions = {}): Promise<CancelReceipt> {
    if (typeof runId !== 'string' || runId === '') throw new ValidationError('OPTIONS_INVALID', 'cancel: runId must be a non-empty string', [{ code: 'invalid_type', path: ['runId'], message: 'expected a non-empty string' }]);
    const { reason } = parseOptions(CancelOptionsSchema, options, 'cancel options');
    for (const run of this.#core.active) {
      if (run.id !== runId) continue;
      this.#core.finish(run, R_CANCELLED, cancelledBy(reason));
      return { runId };
    }
    return this.#signals.cancel(runId, reason);
  }

  signal(runId: string, name: string, payload: unknown): Promise<SignalReceipt> {
    return this.#signals.signal(runId, name, payload);
  }

  async fork(runId: string, options: ForkOptions): Promise<RunResult> {
    if (this.#durable === undefined) throw new StoreError('STORE_INVALID', 'fork() needs an engine with a store (createEngine({ store }))');
    return forkRun(this.#relaunchHost(this.#durable), runId, options);
  }
}
