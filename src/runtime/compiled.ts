/**
 * A topology compiled for one engine: a long-lived RxJS stage per node, wired by
 * a router that moves each run envelope along the edges whose gates open. Built
 * once; runs flow through it without building any pipeline per run.
 * @module
 */
import { EMPTY, Observable, of, ReplaySubject, Subject, type Subscription } from 'rxjs';
import {
  NodeError, TimeoutError, TopologyError, ValidationError, CancelledError, StoppedError, serializeError, type Issue, type OrchestratorError, toIssues,
} from '../errors.ts';
import type { ExecServices, NodeDef, RemoteExecutor, StreamChunk, Topology } from '../definition/types.ts';
import type { Models } from '../providers/models.ts';
import type { Graph } from '../compiler/graph.ts';
import { validateTopology } from '../compiler/validate.ts';
import { EV } from './events.ts';
import { Limiter } from '../primitives/limiter.ts';
import { stage } from './stage.ts';
import { withRetries } from '../resilience/retry.ts';
import {
  ACTIVE_PARENT, DONE, FAILED, INACTIVE_PARENT, NodeCtx, PRIORITIES, RESUMING, RUNNING, R_CANCELLED, R_COMPLETED, R_FAILED, R_RUNNING, Run, SKIPPED,
  type CtxHost, type RunShape,
} from './run.ts';

const G_ALWAYS = 0;
const G_BRANCH = 1;
const G_SUCCESS = 2;
const G_ERROR = 3;
const G_STREAM = 4;

/** What the compiled topology needs from its engine. */
export interface EngineCore {
  readonly services: ExecServices;
  readonly models: Models;
  readonly remote: RemoteExecutor | undefined;
  readonly agingGrants: number;
  /** True while shutdown cancels every run: admitted runs must not start. */
  readonly cancelling: boolean;
  /** Global task limiter, or undefined when unlimited. */
  readonly global: Limiter<Acquire> | undefined;
  pool(name: string): Limiter<Acquire> | undefined;
  poolNames(): readonly string[];
  record(run: Run, code: number, node: number): void;
  finish(run: Run, status: number, error?: OrchestratorError): void;
  compile(t: Topology): Compiled;
}

/**
 * One pending acquisition of a task's resources (pools, then the global slot),
 * in a fixed order so tasks never deadlock. Granted by the resources' limiters.
 */
export class Acquire {
  k = 0;
  constructor(
    readonly resources: readonly Limiter<Acquire>[],
    readonly run: Run,
    readonly onReady: (a: Acquire) => void,
  ) {}

  /** Takes the next resources; calls `onReady` once all are held. */
  proceed(): void {
    const res = this.resources;
    while (this.k < res.length) {
      if (this.run.status !== R_RUNNING) {
        this.releaseHeld();
        this.onReady(this);
        return;
      }
      const r = res[this.k++]!;
      if (r.submit(this, this.run.level) !== 'granted') return;
    }
    this.onReady(this);
  }

  /** Releases what is held, in reverse order. */
  releaseHeld(): void {
    while (this.k > 0) this.resources[--this.k]!.release();
  }
}

const grantAcquire = (a: Acquire): void => a.proceed();

/** Creates a limiter whose waiters are {@link Acquire}s. */
export function resourceLimiter(size: number, agingGrants: number): Limiter<Acquire> {
  return new Limiter<Acquire>(size, grantAcquire, { agingGrants });
}

/** Options a run starts with (already validated). */
export interface Resume {
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly skipped: readonly string[];
}

/** A topology compiled for one engine. */
export class Compiled implements RunShape, CtxHost {
  readonly name: string;
  readonly topology: Topology;
  readonly graph: Graph;
  readonly ids: readonly string[];
  readonly nodes: readonly NodeDef[];
  readonly pendingTemplate: readonly number[];
  readonly zeros: readonly number[];
  readonly empty: readonly undefined[];
  readonly roots: readonly number[];
  readonly outIdx: number;
  readonly maxInFlight: number;
  readonly admission: Limiter<Run>;
  /**
   * Problems that stop this engine from starting runs of the topology but not from executing
   * single nodes of it (a remote worker has no remote executor of its own).
   */
  readonly runIssues: readonly Issue[];
  private readonly childTo: readonly (readonly number[])[];
  private readonly childGate: readonly (readonly number[])[];
  private readonly childBranches: readonly (readonly (ReadonlySet<string> | undefined)[])[];
  private readonly depIdx: readonly (readonly number[])[];
  private readonly isJoin: readonly boolean[];
  private readonly isRoute: readonly boolean[];
  private readonly streamKids: readonly (readonly number[])[];
  private readonly inputs: readonly Subject<Run>[];
  private readonly resources: readonly (readonly Limiter<Acquire>[])[];
  /** Resources of one fan-out item (pools, then the global slot). */
  private readonly itemResources: readonly (readonly Limiter<Acquire>[])[];
  private readonly subscription: Subscription;
  private readonly core: EngineCore;
  /** Builds the `deps` record of node `node` in `run`. */
  buildDeps(run: Run, node: number): Record<string, unknown> {
    const deps: Record<string, unknown> = {};
    const idx = this.depIdx[node]!;
    for (let k = 0; k < idx.length; k++) {
      const p = idx[k]!;
      const st = run.state[p];
      if (st === DONE) deps[this.ids[p]!] = run.outputs[p];
      // a failed parent is visible only to its onError target, as the error
      else if (st === FAILED && this.nodes[p]!.onError === this.ids[node]) deps[this.ids[p]!] = serializeError(run.errors![p]);
    }
    return deps;
  }

  #producer(node: number, from: string): number {
    const def = this.nodes[node]!;
    if (def.streamFrom !== from) throw new Error(`node '${def.id}' does not stream from '${from}' (declare streamFrom: '${from}')`);
    return this.graph.index.get(from)!;
  }

  /** The token stream of `from` as seen by its consumer `node`. */
  tokensOf(run: Run, node: number, from: string): Observable<StreamChunk> {
    const p = this.#producer(node, from);
    const ch = run.channels?.[p];
    if (ch !== undefined) return ch.subject.asObservable();
    const out = run.outputs[p] as { text?: unknown } | undefined;
    if (run.state[p] === DONE && typeof out?.text === 'string') return of({ kind: 'token', index: 0, text: out.text });
    return EMPTY;
  }

  /** Stops the generation of `from` on behalf of its consumer `node`. */
  stopProducer(run: Run, node: number, from: string, reason: string): void {
    run.channels?.[this.#producer(node, from)]?.stop(reason);
  }

  /** Compiles `t` for `core`. Throws {@link TopologyError} for an invalid topology or unknown pool. */
  constructor(core: EngineCore, t: Topology, defaultMaxInFlight: number) {
    const v = validateTopology(t);
    const issues: Issue[] = [...v.issues];
    t.nodes.forEach((node, i) => {
      node.models?.forEach((ref, k) => {
        if (core.models.resolve(ref) === undefined) {
          issues.push({ code: 'unknown_model', path: ['nodes', i, 'model', k], message: `unknown model '${ref}' (providers: ${core.models.providerNames.join(', ')}; write provider:model)` });
        }
      });
      node.pools?.forEach((p, k) => {
        if (core.pool(p) === undefined) {
          issues.push({ code: 'unknown_pool', path: ['nodes', i, 'pool', k], message: `unknown pool '${p}' (engine pools: ${core.poolNames().join(', ') || 'none'})` });
        }
      });
    });
    if (issues.length > 0) throw new TopologyError(t.name, issues);
    this.runIssues = core.remote !== undefined ? [] : t.nodes.flatMap((node, i) => (node.remote === undefined ? [] : [{
      code: 'no_remote_executor', path: ['nodes', i, 'remote'],
      message: `node '${node.id}' runs in worker group '${node.remote}', but the engine has no remote executor (createEngine({ remote: createRemoteExecutor(...) }))`,
    }]));
    const g = v.graph;
    this.core = core;
    this.name = t.name;
    this.topology = t;
    this.graph = g;
    this.ids = g.ids;
    this.nodes = t.nodes;
    const n = g.ids.length;
    this.pendingTemplate = g.in.map((l) => l.length);
    this.zeros = new Array<number>(n).fill(0);
    this.empty = new Array<undefined>(n).fill(undefined);
    this.roots = g.order!.filter((i) => g.in[i]!.length === 0);
    this.outIdx = t.output === undefined ? -1 : g.index.get(t.output)!;
    this.maxInFlight = t.maxInFlight ?? defaultMaxInFlight;
    this.childTo = g.out.map((l) => l.map((e) => e.to));
    const gateCode = { always: G_ALWAYS, branch: G_BRANCH, success: G_SUCCESS, error: G_ERROR, stream: G_STREAM } as const;
    this.childGate = g.out.map((l) => l.map((e) => gateCode[e.gate.kind]));
    this.streamKids = g.out.map((l) => l.filter((e) => e.gate.kind === 'stream').map((e) => e.to));
    this.childBranches = g.out.map((l) => l.map((e) => (e.gate.kind === 'branch' ? e.gate.branches : undefined)));
    this.depIdx = t.nodes.map((node) => {
      const idx = node.after.map((d) => g.index.get(d)!);
      for (const e of g.in[g.index.get(node.id)!]!) if (e.gate.kind === 'error' && !idx.includes(e.from)) idx.push(e.from);
      // a streaming consumer reads its producer through ctx.tokens(), not deps
      return idx;
    });
    this.isJoin = t.nodes.map((x) => x.kind === 'join');
    this.isRoute = t.nodes.map((x) => x.kind === 'route');
    const taskResources = (node: NodeDef): Limiter<Acquire>[] => {
      const list = [...(node.pools ?? [])].sort().map((p) => core.pool(p)!);
      if (core.global) list.push(core.global);
      return list;
    };
    // Joins, fan-outs and sub-topologies hold no task slot while they wait: their items or child nodes do.
    this.resources = t.nodes.map((node) => (node.kind === 'join' || node.kind === 'fanOut' || node.kind === 'topology' || node.remote !== undefined ? [] : taskResources(node)));
    this.itemResources = t.nodes.map((node) => (node.kind === 'fanOut' ? taskResources(node) : []));
    this.admission = new Limiter<Run>(this.maxInFlight, (run) => this.begin(run), { agingGrants: core.agingGrants });
    const inputs: Subject<Run>[] = [];
    const subscription: Subscription[] = [];
    for (let i = 0; i < n; i++) {
      const input = new Subject<Run>();
      inputs.push(input);
      subscription.push(
        input
          .pipe(stage<Run>({ cap: t.nodes[i]!.cap ?? Infinity, level: (run) => run.level, work: (run, done) => this.work(run, i, done), agingGrants: core.agingGrants }))
          .subscribe((run) => this.settled(run, i)),
      );
    }
    this.inputs = inputs;
    const all = new Subject<never>().subscribe();
    for (const s of subscription) all.add(s);
    this.subscription = all;
  }

  /** Node index by id (for resume and results). */
  indexOf(id: string): number | undefined {
    return this.graph.index.get(id);
  }

  /** The run's output value (its declared output node's output). */
  outputOf(run: Run): unknown {
    return this.outIdx < 0 || run.state[this.outIdx] !== DONE ? undefined : run.outputs[this.outIdx];
  }

  /** Validates the run input; returns the parsed input or issues. */
  parseInput(input: unknown): { ok: true; value: unknown } | { ok: false; issues: Issue[] } {
    const schema = this.topology.input;
    if (schema === undefined) return { ok: true, value: input };
    const r = schema.safeParse(input);
    return r.success ? { ok: true, value: r.data } : { ok: false, issues: toIssues(r.error.issues, ['input']) };
  }

  /** Checks a resume request against the graph. */
  checkResume(resume: Resume): Issue[] {
    const issues: Issue[] = [];
    const given = new Set([...Object.keys(resume.outputs), ...resume.skipped]);
    for (const id of Object.keys(resume.outputs)) {
      const i = this.indexOf(id);
      if (i === undefined) issues.push({ code: 'unknown_node', path: ['resume', 'outputs', id], message: `unknown node '${id}'` });
      else for (const e of this.graph.in[i]!) {
        if (!given.has(this.ids[e.from]!)) issues.push({ code: 'missing_parent', path: ['resume', 'outputs', id], message: `node '${id}' is resumed but its parent '${this.ids[e.from]}' is not` });
      }
    }
    resume.skipped.forEach((id, k) => {
      if (this.indexOf(id) === undefined) issues.push({ code: 'unknown_node', path: ['resume', 'skipped', k], message: `unknown node '${id}'` });
    });
    return issues;
  }

  /** Starts an admitted run: records it, applies resume, schedules the roots. */
  begin(run: Run, resume?: Resume): void {
    if (run.status !== R_RUNNING) {
      this.admission.release();
      return;
    }
    run.admitted = true;
    if (this.core.cancelling) {
      this.core.finish(run, R_CANCELLED, new CancelledError('engine shut down'));
      return;
    }
    this.core.record(run, EV.RUN_STARTED, 0);
    if (resume !== undefined) this.applyResume(run, resume);
    const roots = this.roots;
    for (let k = 0; k < roots.length && run.status === R_RUNNING; k++) {
      if (run.state[roots[k]!] === 0) this.inputs[roots[k]!]!.next(run);
    }
  }

  /** Runs a child topology run directly (no admission: it is part of its parent's budget). */
  beginChild(run: Run): void {
    this.core.record(run, EV.RUN_STARTED, 0);
    const roots = this.roots;
    for (let k = 0; k < roots.length && run.status === R_RUNNING; k++) this.inputs[roots[k]!]!.next(run);
  }

  private applyResume(run: Run, resume: Resume): void {
    const skipped = new Set(resume.skipped);
    const order = this.graph.order!;
    for (const i of order) if (Object.hasOwn(resume.outputs, this.ids[i]!) || skipped.has(this.ids[i]!)) run.state[i] = RESUMING;
    for (const i of order) {
      if (run.state[i] !== RESUMING) continue;
      const id = this.ids[i]!;
      if (Object.hasOwn(resume.outputs, id)) {
        run.outputs[i] = resume.outputs[id];
        run.state[i] = DONE;
        this.core.record(run, EV.NODE_RESUMED, i);
      } else {
        run.state[i] = SKIPPED;
        this.core.record(run, EV.NODE_SKIPPED, i);
      }
      this.propagate(run, i, true);
    }
  }

  /** Stage work for node `i` of `run`: acquire resources, then execute. */
  private work(run: Run, i: number, done: () => void): void {
    if (run.status !== R_RUNNING) return done();
    const res = this.resources[i]!;
    if (res.length === 0) return this.exec(run, i, done, undefined);
    const acq = new Acquire(res, run, (a) => {
      if (run.status !== R_RUNNING) {
        a.releaseHeld();
        return done();
      }
      this.exec(run, i, done, a);
    });
    acq.proceed();
  }

  /** Acquires a node's resources for one fan-out item. */
  acquireFor(run: Run, i: number): Promise<Acquire | undefined> {
    const res = this.itemResources[i]!;
    if (res.length === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => new Acquire(res, run, resolve).proceed());
  }

  private exec(run: Run, i: number, done: () => void, acq: Acquire | undefined): void {
    const node = this.nodes[i]!;
    run.state[i] = RUNNING;
    this.core.record(run, EV.NODE_STARTED, i);
    const ctx = new NodeCtx(run, i, node.config, this);
    // No named closure per node unless resources must be released (a named one costs a defineProperty under tsx).
    const finish: () => void = acq === undefined ? done : () => { acq.releaseHeld(); done(); };
    const timeout = this.timeoutFor(run, node);
    const kids = this.streamKids[i]!;
    if (timeout !== undefined || kids.length > 0) this.arm(ctx, timeout, finish);
    if (kids.length > 0) this.openChannel(ctx, kids);
    let value: unknown;
    try {
      value = node.remote !== undefined && run.single !== i ? this.dispatch(ctx, node)
        : node.retry !== undefined && node.kind !== 'llm' ? this.withRetry(ctx, node)
          : node.execute(ctx, this.core.services);
    } catch (e) {
      this.fail(ctx, e, finish);
      return;
    }
    if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
      (value as PromiseLike<unknown>).then(
        (v) => this.ok(ctx, v, finish),
        (e: unknown) => this.fail(ctx, e, finish),
      );
    } else this.ok(ctx, value, finish);
  }

  /** Sends a remote node to its worker group and waits for its output. */
  private dispatch(ctx: NodeCtx, node: NodeDef): Promise<unknown> {
    const run = ctx.run;
    return this.core.remote!.execute({
      topology: this.name, group: node.remote!, nodeId: node.id, runId: run.id, input: run.input, deps: ctx.deps,
      priority: PRIORITIES[run.level]!, deadline: run.deadline === Infinity ? undefined : run.deadline,
    }, ctx.signal);
  }

  /** Executes one node of a fresh run whose dependencies' outputs are given (for remote workers). */
  beginSingle(run: Run, i: number, deps: Readonly<Record<string, unknown>>): void {
    run.single = i;
    for (const [id, value] of Object.entries(deps)) {
      const p = this.indexOf(id);
      if (p === undefined) continue;
      run.state[p] = DONE;
      run.outputs[p] = value;
    }
    this.core.record(run, EV.RUN_STARTED, 0);
    this.inputs[i]!.next(run);
  }

  /** Runs a node's function with its retry settings (llm nodes retry per model call instead). */
  private withRetry(ctx: NodeCtx, node: NodeDef): Promise<unknown> {
    const services = this.core.services;
    return withRetries(`node '${node.id}'`, async () => node.execute(ctx, services), { ...services.resilience.retry, ...node.retry }, {
      signal: ctx.signal,
      budget: services.budget(ctx),
      onRetry: (error, attempt, delayMs) => services.note(ctx, { type: 'retry', attempt, delayMs, error: serializeError(error) }),
    });
  }

  /** The node's effective timeout: its own, shortened by what is left of the run deadline. */
  private timeoutFor(run: Run, node: NodeDef): number | undefined {
    if (run.deadline === Infinity) return node.timeoutMs;
    const left = Math.max(1, run.deadline - Date.now());
    return node.timeoutMs === undefined ? left : Math.min(node.timeoutMs, left);
  }

  /** Opens the token channel of a producer and starts its streaming consumers. */
  private openChannel(ctx: NodeCtx, kids: readonly number[]): void {
    const run = ctx.run;
    const ctl = ctx.ctl!;
    (run.channels ??= [])[ctx.node] = { subject: new ReplaySubject<StreamChunk>(), stop: (reason) => ctl.abort(new StoppedError(reason)) };
    for (let k = 0; k < kids.length && run.status === R_RUNNING; k++) {
      const c = kids[k]!;
      run.mark[c]! |= ACTIVE_PARENT;
      if (--run.pending[c]! === 0) this.ready(run, c);
    }
  }

  private closeChannel(run: Run, i: number, error?: unknown): void {
    const ch = run.channels?.[i];
    if (ch === undefined) return;
    if (error === undefined) ch.subject.complete();
    else ch.subject.error(error);
  }

  private arm(ctx: NodeCtx, timeout: number | undefined, finish: () => void): void {
    const ctl = new AbortController();
    ctx.ctl = ctl;
    const runSignal = ctx.run.signal;
    const onRunAbort = (): void => ctl.abort(runSignal.reason);
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    ctx.unlink = () => runSignal.removeEventListener('abort', onRunAbort);
    if (timeout === undefined) return;
    ctx.timer = setTimeout(() => {
      const err = new TimeoutError(`node '${ctx.nodeId}'`, timeout);
      ctl.abort(err);
      this.fail(ctx, err, finish);
    }, timeout);
  }

  private disarm(ctx: NodeCtx): void {
    if (ctx.timer !== undefined) clearTimeout(ctx.timer);
    if (ctx.unlink !== undefined) ctx.unlink();
  }

  private ok(ctx: NodeCtx, value: unknown, finish: () => void): void {
    if (ctx.settled) return;
    ctx.settled = true;
    if (ctx.ctl !== undefined) this.disarm(ctx);
    const run = ctx.run;
    const i = ctx.node;
    if (run.status !== R_RUNNING) {
      this.closeChannel(run, i, run.error ?? new CancelledError('run ended'));
      return finish();
    }
    const node = this.nodes[i]!;
    if (node.output !== undefined) {
      const r = node.output.safeParse(value);
      if (!r.success) {
        ctx.settled = false;
        return this.fail(ctx, new ValidationError('OUTPUT_INVALID', `node '${node.id}' produced an invalid output`, toIssues(r.error.issues, ['output'])), finish);
      }
      value = r.data;
    }
    if (this.isRoute[i] && (typeof value !== 'string' || !Object.hasOwn(node.branches!, value))) {
      ctx.settled = false;
      const known = Object.keys(node.branches!).join(', ');
      return this.fail(ctx, new ValidationError('ROUTE_UNKNOWN_BRANCH', `route '${node.id}' chose ${JSON.stringify(value)}`, [{ code: 'unknown_branch', path: ['branch'], message: `not one of its branches (${known})` }]), finish);
    }
    run.outputs[i] = value;
    run.state[i] = DONE;
    this.closeChannel(run, i);
    this.core.record(run, EV.NODE_COMPLETED, i);
    finish();
  }

  private fail(ctx: NodeCtx, cause: unknown, finish: () => void): void {
    if (ctx.settled) return;
    ctx.settled = true;
    if (ctx.ctl !== undefined) this.disarm(ctx);
    const run = ctx.run;
    const i = ctx.node;
    if (run.status !== R_RUNNING) {
      this.closeChannel(run, i, run.error ?? cause);
      return finish();
    }
    const error = new NodeError(this.ids[i]!, cause);
    this.closeChannel(run, i, error);
    (run.errors ??= [])[i] = error;
    run.state[i] = FAILED;
    this.core.record(run, EV.NODE_FAILED, i);
    if (this.nodes[i]!.onError === undefined) this.core.finish(run, R_FAILED, error);
    finish();
  }

  /** Stage output: node `i` of `run` settled (done, failed with an error edge, or dropped). */
  private settled(run: Run, i: number): void {
    if (run.status !== R_RUNNING) return;
    if (run.single === i) {
      // a single-node run ends with its node (a failure without onError already failed it)
      if (run.state[i] === DONE) this.core.finish(run, R_COMPLETED);
      else this.core.finish(run, R_FAILED, (run.errors?.[i] as OrchestratorError | undefined));
      return;
    }
    if (run.state[i] === DONE || run.state[i] === FAILED) this.propagate(run, i);
  }

  private propagate(run: Run, i: number, resumed = false): void {
    run.remaining--;
    const st = run.state[i];
    const to = this.childTo[i]!;
    const gates = this.childGate[i]!;
    for (let k = 0; k < to.length; k++) {
      const c = to[k]!;
      const g = gates[k]!;
      // a streaming edge was already taken when the producer started (unless it never ran)
      if (g === G_STREAM && st !== SKIPPED && !resumed) continue;
      const active = st === DONE
        ? g === G_ALWAYS || g === G_SUCCESS || g === G_STREAM || (g === G_BRANCH && this.childBranches[i]![k]!.has(run.outputs[i] as string))
        : st === FAILED && g === G_ERROR;
      run.mark[c]! |= active ? ACTIVE_PARENT : INACTIVE_PARENT;
      if (--run.pending[c]! === 0) this.ready(run, c);
      if (run.status !== R_RUNNING) return;
    }
    if (run.remaining === 0 && run.status === R_RUNNING) this.core.finish(run, R_COMPLETED);
  }

  private ready(run: Run, c: number): void {
    if (run.state[c] === RESUMING) return;
    const m = run.mark[c]!;
    const go = this.isJoin[c] ? (m & ACTIVE_PARENT) !== 0 : (m & INACTIVE_PARENT) === 0;
    if (go) this.inputs[c]!.next(run);
    else {
      run.state[c] = SKIPPED;
      this.core.record(run, EV.NODE_SKIPPED, c);
      this.propagate(run, c);
    }
  }

  /** Completed nodes of a failed run that declare a compensation, newest first. */
  compensations(run: Run): number[] {
    const out: number[] = [];
    for (let k = run.trace.length - 2; k >= 0; k -= 2) {
      const code = run.trace[k]!;
      const i = code >> 4;
      if ((code & 15) === EV.NODE_COMPLETED && this.nodes[i]!.compensate !== undefined && run.state[i] === DONE) out.push(i);
    }
    return out;
  }

  /** Completes every stage: in-flight work finishes, nothing new is accepted. */
  close(): void {
    for (const s of this.inputs) s.complete();
    this.subscription.unsubscribe();
  }

  /** Error for a run aborted because another node failed. */
  static siblingFailed(error: OrchestratorError): CancelledError {
    return new CancelledError(`run failed: ${error.message}`, error);
  }
}
