/**
 * The engine: compiles topologies once, admits runs (single or streamed),
 * enforces the shared limits (global task slots, named pools, priority), and
 * publishes every lifecycle event on one bus.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import { silentLogger } from '../logger.ts';
import { CancelledError, PolicyError, RejectedError, StoreError, TimeoutError, TopologyError, ValidationError, serializeError, type OrchestratorError } from '../errors.ts';
import type { AnyTopology, InputOf, NodeOverride, RemoteExecutor, Topology } from '../definition/types.ts';
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
import { Signals, type SignalReceipt } from './signals.ts';
import type { EngineEvent, PolicyDecisionEvent } from './events.ts';
import { exactTraceContext } from './trace-context.ts';
import { Limits } from './limits.ts';
import { Guards } from './guard.ts';
import type { Guard, RunCheck, RunVerdict } from '../definition/guard.ts';
import {
  EngineOptionsSchema, RecoverOptionsSchema, RunNodeOptionsSchema, RunOptionsSchema, ShutdownOptionsSchema, StreamOptionsSchema, parseOptions,
  type EngineOptions, type ParsedRunOptions, type RecoverOptions, type RunNodeOptions, type RunOptions, type ShutdownOptions, type StreamOptions,
} from './options.ts';
import { Plan } from './plan.ts';
import type { RecoveryReport } from './recover.ts';
import { resultOf, type RunResult } from './result.ts';
import { Run } from './run.ts';
import { Services } from './services.ts';
import { admit, type InputSource } from './source.ts';
import { LEVELS, R_CANCELLED, R_COMPLETED, R_FAILED, R_RUNNING, R_WAITING } from './states.ts';
import type { Level } from '../primitives/limiter.ts';
import type { NewRun, RunStore } from './store.ts';
import { UsageBook, type UsageDim, type UsageFilter, type UsageRow } from './usage.ts';
import { addTotals, zeroTotals } from './totals.ts';
import { topologyVersion } from './version.ts';
import type { RunLoop, StatRow } from './loop.ts';
import { summaryOf } from './summary.ts';
import { forkRun, recoverRuns, relaunchRun, type Recovered, type RelaunchHost } from './relaunch.ts';
import type { Engine, EngineLoad, ResultOf } from './engine-api.ts';

/** Run status code to the name a guard's `ended` hears. */
const STATUS_NAMES: readonly ('completed' | 'failed' | 'cancelled' | 'waiting' | undefined)[] = [undefined, 'completed', 'failed', 'cancelled', 'waiting'];

export type { DurableOptions, EngineOptions, RecoverOptions, ResumeOptions, RunNodeOptions, RunOptions, ShutdownOptions, StreamOptions } from './options.ts';
export type { RecoveryReport } from './recover.ts';
export type { ForkOptions } from './fork.ts';
export type { RunsView, StateAt, HistoryRange } from './runs.ts';
export type { SignalReceipt } from './signals.ts';

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
  readonly #guards: Guards | undefined;
  readonly runs: RunsView;
  #host: RelaunchHost | undefined;

  constructor(options: EngineOptions) {
    const log = (options.logger ?? silentLogger).child({ component: 'engine' });
    const core = new Core(log, options.runIdPrefix ?? `${randomUUID().slice(0, 8)}-`);
    this.#core = core;
    this.events$ = core.bus.asObservable();
    const g = options.guard;
    const guards = this.#guards = g === undefined ? undefined : new Guards(Array.isArray(g) ? g : [g as Guard], log);
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
      relaunch: (rec, onEnd) => relaunchRun(this.#relaunchHost(this.#durable!), rec, this.#versions().get(rec.topology), undefined, (r) => onEnd(resultOf(r))),
    }, this.#waits);
    // one sweeper per engine: wakes parked runs whose wait timed out (and signalled runs left unclaimed)
    this.#sweeper = this.#durable === undefined || d.sweepMs === undefined ? undefined
      : setInterval(() => void this.recover({ wake: true }).catch((e: unknown) => log.warn({ err: e }, 'sweeping parked runs failed')), d.sweepMs);
    this.#sweeper?.unref?.();
    for (const t of options.topologies ?? []) this.#compileForRuns(t);
    this.#loop = options.loop;
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
        this.#launch(c, input, opts, (run) => resolve(resultOf(run)));
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
      const run = this.#launch(c, input, runOpts, (r) => done(resultOf(r)));
      return () => this.#core.finish(run, R_CANCELLED, new CancelledError('stream unsubscribed'));
    });
  }

  /** `recovered`: a stored run relaunched by `recover()` (its row exists; its log goes on after `seqBase - 1`). */
  #launch(c: Compiled, input: unknown, opts: ParsedRunOptions | undefined, onEnd: (run: Run) => void, recovered?: Recovered, forkOf?: { runId: string; nodeId: string }): Run {
    const core = this.#core;
    const plan = c.plan;
    const level = LEVELS[opts?.priority ?? 'normal'];
    const deadlineMs = opts?.deadlineMs;
    const deadline = deadlineMs === undefined ? Infinity : Date.now() + deadlineMs;
    const durable = this.#durable;
    const loop = this.#loop;
    const guards = this.#guards;
    const deliver = durable === undefined && loop === undefined && guards === undefined ? onEnd : (r: Run): void => {
      const ended = r.guardEnded;
      if (ended !== undefined) {
        r.guardEnded = undefined;
        ended(STATUS_NAMES[r.status] ?? 'failed');
      }
      durable?.ended(r);
      if (loop !== undefined && r.status !== R_WAITING) this.#tellLoop(loop, r);
      onEnd(r);
    };
    const run = new Run(opts?.runId ?? core.nextId(), plan, input, level, deadline, undefined, deliver);
    if (opts?.tenant !== undefined) run.tenant = opts.tenant;
    if (opts?.user !== undefined) run.user = opts.user;
    if (opts?.project !== undefined) run.project = opts.project;
    const traceContext = opts?.traceContext ?? recovered?.traceContext;
    if (traceContext !== undefined) run.traceContext = exactTraceContext(traceContext);
    if (recovered?.wake !== undefined) run.wake = recovered.wake;
    core.active.add(run);
    if (core.closing) {
      core.finish(run, R_FAILED, new RejectedError('SHUTTING_DOWN', 'the engine is shutting down and admits no new runs'));
      return run;
    }
    const parsedInput = plan.parseInput(input);
    if (!parsedInput.ok) {
      core.finish(run, R_FAILED, new ValidationError('INPUT_INVALID', `input of topology '${plan.name}' is invalid`, parsedInput.issues));
      return run;
    }
    run.input = parsedInput.value;
    if (recovered !== undefined) {
      run.decision = recovered.decision;
      if (recovered.spent !== undefined) seedUsage(run, recovered.spent);
    }
    else if (loop !== undefined) {
      const decided = this.#decide(loop, plan, run);
      if (decided !== undefined) {
        core.finish(run, R_FAILED, decided);
        return run;
      }
    }
    if (durable !== undefined) {
      if (recovered !== undefined) durable.attach(run, undefined, recovered.seqBase);
      else {
        const row: { -readonly [K in keyof NewRun]: NewRun[K] } = {
          runId: run.id, topology: plan.name, version: topologyVersion(plan.topology), input, createdAt: durable.now(), owner: durable.owner, leaseMs: durable.leaseMs,
        };
        if (run.tenant !== undefined) row.tenant = run.tenant;
        if (forkOf !== undefined) row.forkOf = forkOf;
        durable.attach(run, row, 0);
      }
    }
    if (opts?.overrides !== undefined) {
      const unknown = Object.keys(opts.overrides).filter((id) => plan.indexOf(id) === undefined);
      if (unknown.length > 0) {
        core.finish(run, R_FAILED, new ValidationError('OVERRIDES_INVALID', `overrides of topology '${plan.name}' are invalid`, unknown.map((id) => ({ code: 'unknown_node', path: ['overrides', id], message: `no node '${id}'` }))));
        return run;
      }
      run.overrides = mergeOverrides(run.decision?.overrides, opts.overrides);
    } else if (run.decision?.overrides !== undefined) run.overrides = run.decision.overrides;
    if (opts?.resume !== undefined) {
      const resume = { outputs: opts.resume.outputs, skipped: opts.resume.skipped ?? [] };
      const issues = plan.checkResume(resume);
      if (issues.length > 0) {
        core.finish(run, R_FAILED, new ValidationError('RESUME_INVALID', `resume of topology '${plan.name}' is invalid`, issues));
        return run;
      }
      run.resume = resume;
    }
    const signal = opts?.signal;
    if (signal !== undefined || deadlineMs !== undefined) {
      if (signal?.aborted) {
        core.finish(run, R_CANCELLED, new CancelledError('run cancelled by its signal', signal.reason));
        return run;
      }
      const unlisten = onAbort(signal, (reason) => core.finish(run, R_CANCELLED, new CancelledError('run cancelled by its signal', reason)));
      const timer = deadlineMs === undefined ? undefined
        : setTimeout(() => core.finish(run, R_FAILED, new TimeoutError(`run of '${plan.name}'`, deadlineMs)), deadlineMs);
      run.cleanup = timer === undefined ? unlisten : () => {
        unlisten();
        clearTimeout(timer);
      };
    }
    if (guards?.checksRuns === true && recovered === undefined) this.#checkRun(guards, c, run, level);
    else this.#admit(c, run, level);
    return run;
  }

  #admit(c: Compiled, run: Run, level: Level): void {
    if (c.admission.submit(run, level, run.tenant) === 'granted') c.begin(run);
    else run.queued = true;
  }

  /** Asks the guards before admitting a new run: a refusal fails it (nothing ran), an allow admits it. */
  #checkRun(guards: Guards, c: Compiled, run: Run, level: Level): void {
    const check: { -readonly [K in keyof RunCheck]: RunCheck[K] } = { runId: run.id, topology: c.plan.name, input: run.input };
    if (run.tenant !== undefined) check.tenant = run.tenant;
    if (run.user !== undefined) check.user = run.user;
    if (run.project !== undefined) check.project = run.project;
    const variant = run.decision?.variant;
    if (variant !== undefined) check.variant = variant;
    const apply = (v: RunVerdict): void => {
      this.#reportRun(run, v);
      if (run.status !== R_RUNNING) {
        // ended while the guards were asked (cancelled, shut down): free what they reserved
        if (v.action === 'allow') v.ended?.('refused');
        return;
      }
      if (v.action === 'deny') {
        this.#core.finish(run, R_FAILED, v.error);
        return;
      }
      run.guardEnded = v.ended;
      this.#admit(c, run, level);
    };
    const v = guards.run(check);
    if (typeof (v as { then?: unknown }).then === 'function') {
      (v as Promise<RunVerdict>).then(apply, (e: unknown) => apply({ action: 'deny', rule: 'guard', error: new PolicyError('POLICY_FAILED', 'the guards failed while checking a run (refused: fail-closed)', { cause: e }) }));
    } else apply(v as RunVerdict);
  }

  /** A `policy.decision` event for a run check that was not a plain allow. */
  #reportRun(run: Run, v: RunVerdict): void {
    const bus = this.#core.bus;
    if (!bus.observed || (v.action === 'allow' && v.rule === undefined)) return;
    const e: { -readonly [K in keyof PolicyDecisionEvent]: PolicyDecisionEvent[K] } = { type: 'policy.decision', runId: run.id, topology: run.plan.name, stage: 'run', action: v.action, ts: Date.now() };
    if (v.rule !== undefined) e.rule = v.rule;
    if (v.action === 'deny') e.error = serializeError(v.error);
    if (run.tenant !== undefined) e.tenant = run.tenant;
    if (run.user !== undefined) e.user = run.user;
    if (run.project !== undefined) e.project = run.project;
    bus.next(e);
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
    return this.#host ??= { durable, core: this.#core, versions: () => this.#versions(), launch: (...a) => this.#launch(...a) };
  }

  /** The runnable compiled topologies, by name then version. */
  #versions(): Map<string, Map<string, Compiled>> {
    const byName = new Map<string, Map<string, Compiled>>();
    for (const c of this.#all) {
      if (c.plan.runIssues.length > 0) continue;
      let versions = byName.get(c.plan.name);
      if (versions === undefined) byName.set(c.plan.name, versions = new Map());
      versions.set(topologyVersion(c.plan.topology), c);
    }
    return byName;
  }

  signal(runId: string, name: string, payload: unknown): Promise<SignalReceipt> {
    return this.#signals.signal(runId, name, payload);
  }

  async fork(runId: string, options: ForkOptions): Promise<RunResult> {
    if (this.#durable === undefined) throw new StoreError('STORE_INVALID', 'fork() needs an engine with a store (createEngine({ store }))');
    return forkRun(this.#relaunchHost(this.#durable), runId, options);
  }

  /** Asks the loop for a new run's decision; a loop that throws fails the run (LOOP_FAILED) instead of running it undecided. */
  #decide(loop: RunLoop, plan: Plan, run: Run): OrchestratorError | undefined {
    try {
      run.decision = loop.decide({ topology: plan.topology, version: topologyVersion(plan.topology), runId: run.id, tenant: run.tenant, user: run.user, input: run.input });
      return undefined;
    } catch (e) {
      this.#core.log.error({ runId: run.id, err: e }, 'the loop failed to decide a run');
      return new RejectedError('LOOP_FAILED', `the feedback loop failed to decide run '${run.id}'`, { cause: e });
    }
  }

  /** Tells the loop a run ended; a loop that throws is logged, never fails the run (it has ended). */
  #tellLoop(loop: RunLoop, run: Run): void {
    try {
      loop.ended(summaryOf(run));
    } catch (e) {
      this.#core.log.error({ runId: run.id, err: e }, 'the loop failed on an ended run');
    }
  }
}

/** Per-node settings of a run: the decision's, with the run's own (RunOptions `overrides`) over them node by node. */
function mergeOverrides(
  decided: Readonly<Record<string, NodeOverride>> | undefined, own: Readonly<Record<string, NodeOverride>>,
): Readonly<Record<string, NodeOverride>> {
  if (decided === undefined) return own;
  const out: Record<string, NodeOverride> = { ...decided };
  for (const [id, o] of Object.entries(own)) out[id] = { ...decided[id], ...o };
  return out;
}

/** A recovered run's totals start from what its nodes spent before the crash (by node id). */
function seedUsage(run: Run, spent: Readonly<Record<string, UsageTotals>>): void {
  for (const [id, u] of Object.entries(spent)) {
    const i = run.plan.indexOf(id);
    if (i === undefined) continue;
    addTotals(((run.nodeUsage ??= [])[i] ??= zeroTotals()), u);
    addTotals((run.usage ??= zeroTotals()), u);
  }
}
