/**
 * The engine: compiles topologies once, admits runs (single or streamed),
 * enforces the shared limits (global task slots, named pools, priority), and
 * publishes every lifecycle event on one bus.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import { silentLogger, isLogger, type Logger } from '../logger.ts';
import { z } from 'zod';
import {
  CancelledError, RejectedError, TimeoutError, TopologyError, ValidationError, type OrchestratorError, toIssues,
} from '../errors.ts';
import type {
  AnyTopology, ExecServices, InputOf, NodeContext, NodeNote, OutputOf, OutputsOf, Priority, RemoteExecutor, Topology,
} from '../definition/types.ts';
import { Compiled, Compiled as CompiledTopology, resourceLimiter, type Acquire, type EngineCore, type Resume } from './compiled.ts';
import { EV, type EngineEvent } from './events.ts';
import { createModels, isModels, type Models } from '../providers/models.ts';
import { Resilience, ResilienceOptionsSchema, type ResilienceOptions } from '../resilience/resilience.ts';
import { serializeError } from '../errors.ts';
import type { Usage, UsageTotals } from '../providers/types.ts';
import type { Limiter } from '../primitives/limiter.ts';
import { resultOf, eventAt, type RunResult } from './result.ts';
import { addUsage, LEVELS, NodeCtx, R_CANCELLED, R_COMPLETED, R_FAILED, R_RUNNING, Run, zeroTotals, type Totals } from './run.ts';
import { admit, type InputSource } from './source.ts';

const positiveInt = z.number().int().positive();

const EngineOptionsSchema = z.strictObject({
  concurrency: positiveInt.optional(),
  pools: z.record(z.string().regex(/^[A-Za-z_][\w.-]*$/, 'pool names are identifiers'), positiveInt).optional(),
  maxInFlight: positiveInt.optional(),
  agingGrants: positiveInt.optional(),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  runIdPrefix: z.string().optional(),
  models: z.custom<Models>(isModels, 'expected createModels(...)').optional(),
  resilience: ResilienceOptionsSchema.optional(),
  remote: z.custom<RemoteExecutor>((v) => typeof (v as RemoteExecutor | null)?.execute === 'function', 'expected a remote executor (createRemoteExecutor(...))').optional(),
});

/**
 * Engine configuration.
 *
 * @example
 * ```ts
 * const engine = createEngine({ concurrency: 64, pools: { openai: 8, anthropic: 4 }, logger: pino() });
 * ```
 */
export interface EngineOptions {
  /** Global limit on tasks doing work at once (map, tool, route and fan-out items), across all runs. Default unlimited. */
  readonly concurrency?: number;
  /** Named resource pools shared by every node that names them, across all runs and topologies. */
  readonly pools?: Readonly<Record<string, number>>;
  /** Default admission limit per topology (runs in flight). Default 1024; a topology's own `maxInFlight` wins. */
  readonly maxInFlight?: number;
  /** A waiting task passed over this many grants is served next, whatever its priority. Default 16. */
  readonly agingGrants?: number;
  /** pino logger; the engine logs through its own child. Default: silent. */
  readonly logger?: Logger;
  /** Prefix of generated run ids. Default: random per engine. */
  readonly runIdPrefix?: string;
  /** Providers, prices and rate limits for llm nodes. Default: the simulated provider only (`sim:*`). */
  readonly models?: Models;
  /** Retries, circuit breakers and bulkheads for model calls. */
  readonly resilience?: ResilienceOptions;
  /** Runs nodes marked `remote` in their worker group. */
  readonly remote?: RemoteExecutor;
}

const ResumeSchema = z.strictObject({
  outputs: z.record(z.string(), z.unknown()),
  skipped: z.array(z.string()).optional(),
});

const RunOptionsSchema = z.strictObject({
  signal: z.instanceof(AbortSignal).optional(),
  priority: z.enum(['high', 'normal', 'low']).optional(),
  deadlineMs: z.number().positive().optional(),
  runId: z.string().min(1).optional(),
  resume: ResumeSchema.optional(),
  tenant: z.string().min(1).optional(),
});

/**
 * Options of one run.
 *
 * @example
 * ```ts
 * await engine.run(t, input, { signal: AbortSignal.timeout(30_000), priority: 'high', deadlineMs: 10_000 });
 * ```
 */
export interface RunOptions {
  /** Aborting it cancels the run; running nodes see it through `ctx.signal`. */
  readonly signal?: AbortSignal;
  readonly priority?: Priority;
  /** The whole run must finish within this many ms; each node gets at most what is left. */
  readonly deadlineMs?: number;
  readonly runId?: string;
  /** Outputs recorded by an earlier attempt: those nodes are not run again. */
  readonly resume?: { readonly outputs: Readonly<Record<string, unknown>>; readonly skipped?: readonly string[] };
  /** Who the run is for; token usage and cost are totalled per tenant (`engine.usage(tenant)`). */
  readonly tenant?: string;
}

const StreamOptionsSchema = z.strictObject({
  maxInFlight: positiveInt.optional(),
  priority: z.enum(['high', 'normal', 'low']).optional(),
  deadlineMs: z.number().positive().optional(),
  bufferSize: z.number().int().nonnegative().optional(),
  tenant: z.string().min(1).optional(),
});

/**
 * Options of a streaming entry.
 *
 * @example
 * ```ts
 * engine.stream(t, inputs, { maxInFlight: 16, priority: 'low' }).subscribe(console.log);
 * ```
 */
export interface StreamOptions {
  /** Runs in flight from this stream; never more than the topology's admission limit. */
  readonly maxInFlight?: number;
  readonly priority?: Priority;
  readonly deadlineMs?: number;
  /** Observable sources only: inputs held while all slots are busy before the stream fails. Default 1024. */
  readonly bufferSize?: number;
  readonly tenant?: string;
}

/** How {@link Engine.shutdown} treats runs in flight. */
export interface ShutdownOptions {
  /** `drain` (default): let runs in flight finish; `cancel`: cancel them now. New runs are refused either way. */
  readonly mode?: 'drain' | 'cancel';
  /** Drain at most this long, then cancel what is left. Default 30 s. */
  readonly timeoutMs?: number;
}

/** Result type of running topology `T`. */
export type ResultOf<T> = RunResult<OutputsOf<T>, OutputOf<T>>;

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
  /** Token and cost totals of all finished and running runs of a tenant (or of all runs). */
  usage(tenant?: string): Readonly<UsageTotals>;
  /** Runs currently admitted or waiting for admission. */
  readonly inFlight: number;
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
  runNode(topology: AnyTopology, nodeId: string, input: unknown, deps: Readonly<Record<string, unknown>>, options?: { signal?: AbortSignal; priority?: Priority; deadline?: number }):
    Promise<{ readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: OrchestratorError }>;
  /** Compiles (and validates) ahead of the first run. Throws TopologyError when invalid. */
  compile(topology: AnyTopology): void;
  /** Refuses new runs, then drains or cancels the ones in flight. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/**
 * Creates an engine. Throws {@link ValidationError} naming the bad option.
 *
 * @example
 * ```ts
 * const engine = createEngine({ pools: { openai: 8 } });
 * ```
 */
export function createEngine(options: EngineOptions = {}): Engine {
  const parsed = EngineOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createEngine options are invalid', toIssues(parsed.error.issues, ['options']));
  return new EngineImpl(options);
}

class EngineImpl implements Engine, EngineCore {
  readonly agingGrants: number;
  readonly global: Limiter<Acquire> | undefined;
  readonly services: ExecServices;
  readonly #pools = new Map<string, Limiter<Acquire>>();
  readonly models: Models;
  readonly remote: RemoteExecutor | undefined;
  readonly #bus = new Subject<EngineEvent>();
  readonly events$: Observable<EngineEvent> = this.#bus.asObservable();
  readonly #usage = new Map<string, Totals>();
  readonly #allUsage = zeroTotals();
  readonly #compiled = new WeakMap<Topology, Compiled>();
  readonly #all = new Set<Compiled>();
  readonly #active = new Set<Run>();
  readonly #maxInFlight: number;
  readonly #prefix: string;
  readonly #log: Logger;
  #counter = 0;
  #closing = false;
  cancelling = false;
  #drained: (() => void) | undefined;

  constructor(options: EngineOptions) {
    this.agingGrants = options.agingGrants ?? 16;
    this.global = options.concurrency === undefined ? undefined : resourceLimiter(options.concurrency, this.agingGrants);
    for (const [name, size] of Object.entries(options.pools ?? {})) this.#pools.set(name, resourceLimiter(size, this.agingGrants));
    this.#maxInFlight = options.maxInFlight ?? 1024;
    this.#prefix = options.runIdPrefix ?? `${randomUUID().slice(0, 8)}-`;
    this.#log = (options.logger ?? silentLogger).child({ component: 'engine' });
    this.models = options.models ?? createModels();
    this.remote = options.remote;
    const resilience = new Resilience(options.resilience ?? {}, (model, state) => {
      this.#log.info({ model, state }, 'circuit breaker state changed');
      if (this.#bus.observed) this.#bus.next({ type: 'breaker.state', model, state, ts: Date.now() });
    });
    this.services = {
      resilience,
      budget: (ctx) => ((ctx as NodeCtx).run.budget ??= { remaining: resilience.retryBudget }),
      note: (ctx, note) => this.#note(ctx as NodeCtx, note),
      task: (ctx, fn) => this.#task(ctx, fn),
      runChild: (t, input, ctx) => this.#runChild(t, input, ctx),
      models: this.models,
      token: (ctx, index, text) => this.#token(ctx as NodeCtx, index, text),
      restart: (ctx, reason) => this.#restart(ctx as NodeCtx, reason),
      account: (ctx, usage, cost) => this.#account(ctx as NodeCtx, usage, cost),
    };
  }

  usage(tenant?: string): Readonly<UsageTotals> {
    return { ...(tenant === undefined ? this.#allUsage : this.#usage.get(tenant) ?? zeroTotals()) };
  }

  #token(ctx: NodeCtx, index: number, text: string): void {
    const run = ctx.run;
    const ch = run.channels?.[ctx.node];
    if (ch !== undefined) ch.subject.next({ kind: 'token', index, text });
    if (this.#bus.observed) {
      this.#bus.next({
        type: 'node.token', runId: run.id, topology: run.shape.name, nodeId: ctx.nodeId, index, text, ts: Date.now(),
        ...(run.parent ? { parentRunId: run.parent.id } : {}),
      });
    }
  }

  #note(ctx: NodeCtx, note: NodeNote): void {
    const run = ctx.run;
    (run.notes ??= new Map()).set(run.trace.length >> 1, note);
    this.record(run, note.type === 'retry' ? EV.NODE_RETRY : EV.NODE_FALLBACK, ctx.node);
  }

  #restart(ctx: NodeCtx, reason: string): void {
    const run = ctx.run;
    run.channels?.[ctx.node]?.subject.next({ kind: 'restart', reason });
    if (this.#bus.observed) {
      this.#bus.next({
        type: 'node.restart', runId: run.id, topology: run.shape.name, nodeId: ctx.nodeId, reason, ts: Date.now(),
        ...(run.parent ? { parentRunId: run.parent.id } : {}),
      });
    }
  }

  #account(ctx: NodeCtx, usage: Usage, cost: number): void {
    // The node that called, then each ancestor run and the node of it that started the child run.
    let run: Run | undefined = ctx.run;
    let node = ctx.node;
    let top: Run = run;
    for (; run !== undefined; node = run.parentNode, run = run.parent) {
      addUsage(((run.nodeUsage ??= [])[node] ??= zeroTotals()), usage, cost);
      addUsage((run.usage ??= zeroTotals()), usage, cost);
      top = run;
    }
    addUsage(this.#allUsage, usage, cost);
    if (top.tenant !== undefined) {
      let t = this.#usage.get(top.tenant);
      if (t === undefined) this.#usage.set(top.tenant, (t = zeroTotals()));
      addUsage(t, usage, cost);
    }
  }

  get inFlight(): number {
    return this.#active.size;
  }

  pool(name: string): Limiter<Acquire> | undefined {
    return this.#pools.get(name);
  }

  poolNames(): readonly string[] {
    return [...this.#pools.keys()];
  }

  /** Compiles for starting runs: also refuses what only single-node execution may ignore. */
  compile(t: Topology): Compiled {
    const c = this.#compileGraph(t);
    if (c.runIssues.length > 0) throw new TopologyError(c.name, c.runIssues);
    return c;
  }

  #compileGraph(t: Topology): Compiled {
    let c = this.#compiled.get(t);
    if (c === undefined) {
      c = new CompiledTopology(this, t, this.#maxInFlight);
      this.#compiled.set(t, c);
      this.#all.add(c);
    }
    return c;
  }

  record(run: Run, code: number, node: number): void {
    const seq = run.trace.length >> 1;
    run.trace.push(code | (node << 4), Date.now());
    if (this.#bus.observed) this.#bus.next(eventAt(run.shape as Compiled, run, seq));
  }

  finish(run: Run, status: number, error?: OrchestratorError): void {
    if (run.status !== R_RUNNING) return;
    run.status = status;
    run.error = error;
    run.endedAt = Date.now();
    this.record(run, status === R_COMPLETED ? EV.RUN_COMPLETED : status === R_FAILED ? EV.RUN_FAILED : EV.RUN_CANCELLED, 0);
    if (status !== R_COMPLETED) {
      this.#log.debug({ runId: run.id, topology: run.shape.name, code: error?.code }, error?.message ?? 'run ended');
      if (run.ctl !== undefined) run.ctl.abort(status === R_FAILED ? Compiled.siblingFailed(error!) : error);
    }
    if (run.cleanup !== undefined) run.cleanup();
    const undo = status === R_FAILED ? (run.shape as Compiled).compensations(run) : [];
    if (undo.length === 0) this.#deliver(run);
    else void this.#compensate(run, undo).then(() => this.#deliver(run));
  }

  /** Hands a finished run to its caller and frees its admission slot. */
  #deliver(run: Run): void {
    if (run.parent === undefined) this.#active.delete(run);
    run.onEnd(run);
    if (run.admitted && run.parent === undefined) (run.shape as Compiled).admission.release();
    if (this.#drained !== undefined && this.#active.size === 0) this.#drained();
  }

  /** Runs the compensation actions of completed nodes, newest first, one at a time. */
  async #compensate(run: Run, nodes: readonly number[]): Promise<void> {
    const c = run.shape as Compiled;
    const error = serializeError(run.error);
    for (const i of nodes) {
      try {
        await c.nodes[i]!.compensate!({ input: run.input, output: run.outputs[i], runId: run.id, nodeId: c.ids[i]!, error });
        this.record(run, EV.NODE_COMPENSATED, i);
      } catch (e) {
        (run.notes ??= new Map()).set(run.trace.length >> 1, serializeError(e));
        this.record(run, EV.NODE_COMPENSATION_FAILED, i);
        this.#log.warn({ runId: run.id, nodeId: c.ids[i], err: e }, 'compensation failed');
      }
    }
  }

  run<T extends AnyTopology>(topology: T, input: InputOf<T>, options?: RunOptions): Promise<ResultOf<T>> {
    try {
      const c = this.compile(topology);
      const opts = options === undefined ? undefined : (checkOptions(RunOptionsSchema, options, 'run options') as RunOptions);
      return new Promise((resolve) => {
        this.#launch(c, input, opts, (run) => resolve(resultOf(c, run)));
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  runNode(
    topology: AnyTopology, nodeId: string, input: unknown, deps: Readonly<Record<string, unknown>>,
    options: { signal?: AbortSignal; priority?: Priority; deadline?: number } = {},
  ): Promise<{ readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: OrchestratorError }> {
    const c = this.#compileGraph(topology);
    const i = c.indexOf(nodeId);
    if (i === undefined) {
      return Promise.resolve({ ok: false, error: new ValidationError('UNKNOWN_NODE', `topology '${c.name}' has no node '${nodeId}'`, [{ code: 'unknown_node', path: ['nodeId'], message: `unknown node '${nodeId}'` }]) });
    }
    return new Promise((resolve) => {
      const run = new Run(this.#prefix + (++this.#counter).toString(36), c, input, LEVELS[options.priority ?? 'normal'], options.deadline ?? Infinity, undefined, (r) => {
        resolve(r.status === R_COMPLETED ? { ok: true, output: r.outputs[i] } : { ok: false, error: r.error ?? new CancelledError('node run ended') });
      });
      this.#active.add(run);
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) return this.finish(run, R_CANCELLED, new CancelledError('cancelled by its signal', signal.reason));
        const onAbort = (): void => this.finish(run, R_CANCELLED, new CancelledError('cancelled by its signal', signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        run.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      c.beginSingle(run, i, deps);
    });
  }

  stream<T extends AnyTopology>(topology: T, source: InputSource<InputOf<T>>, options?: StreamOptions): Observable<ResultOf<T>> {
    const c = this.compile(topology);
    const opts = options === undefined ? {} : checkOptions(StreamOptionsSchema, options, 'stream options');
    const limit = Math.min(opts.maxInFlight ?? c.maxInFlight, c.maxInFlight);
    const runOpts: RunOptions = {
      ...(opts.priority === undefined ? {} : { priority: opts.priority }),
      ...(opts.deadlineMs === undefined ? {} : { deadlineMs: opts.deadlineMs }),
      ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
    };
    return admit<InputOf<T>, ResultOf<T>>(source, { limit, bufferSize: opts.bufferSize ?? 1024 }, (input, done) => {
      const run = this.#launch(c, input, runOpts, (r) => done(resultOf(c, r)));
      return () => this.finish(run, R_CANCELLED, new CancelledError('stream unsubscribed'));
    });
  }

  #launch(c: Compiled, input: unknown, opts: RunOptions | undefined, onEnd: (run: Run) => void): Run {
    const level = LEVELS[opts?.priority ?? 'normal'];
    const deadlineMs = opts?.deadlineMs;
    const deadline = deadlineMs === undefined ? Infinity : Date.now() + deadlineMs;
    const run = new Run(opts?.runId ?? this.#prefix + (++this.#counter).toString(36), c, input, level, deadline, undefined, onEnd);
    if (opts?.tenant !== undefined) run.tenant = opts.tenant;
    this.#active.add(run);
    if (this.#closing) {
      this.finish(run, R_FAILED, new RejectedError('SHUTTING_DOWN', 'the engine is shutting down and admits no new runs'));
      return run;
    }
    const parsedInput = c.parseInput(input);
    if (!parsedInput.ok) {
      this.finish(run, R_FAILED, new ValidationError('INPUT_INVALID', `input of topology '${c.name}' is invalid`, parsedInput.issues));
      return run;
    }
    run.input = parsedInput.value;
    if (opts?.resume !== undefined) {
      const resume: Resume = { outputs: opts.resume.outputs, skipped: opts.resume.skipped ?? [] };
      const issues = c.checkResume(resume);
      if (issues.length > 0) {
        this.finish(run, R_FAILED, new ValidationError('RESUME_INVALID', `resume of topology '${c.name}' is invalid`, issues));
        return run;
      }
      run.resume = resume;
    }
    const signal = opts?.signal;
    if (signal !== undefined || deadlineMs !== undefined) {
      if (signal?.aborted) {
        this.finish(run, R_CANCELLED, new CancelledError('run cancelled by its signal', signal.reason));
        return run;
      }
      const onAbort = (): void => this.finish(run, R_CANCELLED, new CancelledError('run cancelled by its signal', signal!.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = deadlineMs === undefined ? undefined
        : setTimeout(() => this.finish(run, R_FAILED, new TimeoutError(`run of '${c.name}'`, deadlineMs)), deadlineMs);
      run.cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      };
    }
    if (c.admission.submit(run, level) === 'granted') c.begin(run, run.resume);
    return run;
  }

  async #task<R>(ctx: NodeContext, fn: () => R | PromiseLike<R>): Promise<R> {
    const { run, node } = ctx as NodeCtx;
    const acq = await (run.shape as Compiled).acquireFor(run, node);
    try {
      if (run.status !== R_RUNNING) throw new CancelledError('run ended before the task started');
      return await fn();
    } finally {
      acq?.releaseHeld();
    }
  }

  #runChild(t: AnyTopology, input: unknown, ctx: NodeContext): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const c = this.compile(t);
      const parent = (ctx as NodeCtx).run;
      const parsedInput = c.parseInput(input);
      if (!parsedInput.ok) {
        reject(new ValidationError('INPUT_INVALID', `input of sub-topology '${c.name}' is invalid`, parsedInput.issues));
        return;
      }
      const run = new Run(this.#prefix + (++this.#counter).toString(36), c, parsedInput.value, parent.level, parent.deadline, parent, (r) => {
        if (r.status === R_COMPLETED) resolve(c.outputOf(r));
        else reject(r.error);
      });
      run.parentNode = (ctx as NodeCtx).node;
      const signal = ctx.signal;
      if (signal.aborted) {
        this.finish(run, R_CANCELLED, new CancelledError('parent run ended', signal.reason));
        return;
      }
      const onAbort = (): void => this.finish(run, R_CANCELLED, new CancelledError('parent run ended', signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      run.cleanup = () => signal.removeEventListener('abort', onAbort);
      c.beginChild(run);
    });
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { mode = 'drain', timeoutMs = 30_000 } = checkOptions(
      z.strictObject({ mode: z.enum(['drain', 'cancel']).optional(), timeoutMs: z.number().nonnegative().optional() }),
      options,
      'shutdown options',
    );
    this.#closing = true;
    const cancelAll = (): void => {
      this.cancelling = true;
      for (const run of [...this.#active]) this.finish(run, R_CANCELLED, new CancelledError('engine shut down'));
    };
    if (mode === 'cancel') cancelAll();
    if (this.#active.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(cancelAll, timeoutMs);
        timer.unref?.();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const c of this.#all) c.close();
    this.#bus.complete();
  }
}

function checkOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', `${what} are invalid`, toIssues(r.error.issues, ['options']));
  return r.data;
}
