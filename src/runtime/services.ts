/**
 * The services the runtime hands to an operator's `execute`: fan-out item
 * slots, child runs, tokens, usage, retry budget and notes.
 *
 * The engine gives every node function a {@link NodeCtx} and operators hand that
 * same context back, so the methods take a `NodeCtx` (method parameters are
 * checked bivariantly, which lets this class implement {@link ExecServices}).
 * @module
 */
import { CancelledError, ValidationError, serializeError } from '../errors.ts';
import type { CallCheck, CallVerdict, GuardSubject, OutputVerdict, ToolCheck, ToolVerdict } from '../definition/guard.ts';
import type { AnyTopology, ExecServices, ModelCall, NodeNote, NodeOverride, WaitRequest } from '../definition/types.ts';
import type { Models } from '../providers/models.ts';
import type { Usage } from '../providers/types.ts';
import { onAbort } from '../primitives/abort.ts';
import type { Resilience } from '../resilience/resilience.ts';
import type { RetryBudget } from '../resilience/retry.ts';
import type { Compiled } from './compiled.ts';
import type { Core } from './core.ts';
import type { NodeCtx } from './ctx.ts';
import { EV, type ModelCallEvent, type PolicyDecisionEvent, type RestartEvent, type TokenEvent } from './events.ts';
import { lazyCallCheck, type Guards } from './guard.ts';
import type { Waits } from './park.ts';
import { acquire } from './resources.ts';
import { Run, rootOf } from './run.ts';
import { R_CANCELLED, R_COMPLETED, R_RUNNING } from './states.ts';
import type { UsageBook } from './usage.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The {@link ExecServices} of one engine.
 *
 * @example
 * ```ts
 * const services = new Services(core, usage, resilience, models, (t) => engine.compile(t));
 * node.execute(ctx, services);
 * ```
 */
export class Services implements ExecServices {
  constructor(
    private readonly core: Core,
    private readonly book: UsageBook,
    readonly resilience: Resilience,
    readonly models: Models,
    private readonly compile: (t: AnyTopology) => Compiled,
    private readonly waits: Waits,
    private readonly guards: Guards | undefined,
  ) {
    this.guarded = guards?.checksCalls === true;
    this.guardsTools = guards?.checksTools === true;
  }

  readonly guarded: boolean;
  readonly guardsTools: boolean;

  /** The subject of a check about the node's run: its top-level run, tenant, user, project and variant. */
  #subject(ctx: NodeCtx): GuardSubject {
    const run = ctx.run;
    const top = rootOf(run);
    // one shape whatever is set: the checks built from it stay monomorphic
    return { runId: top.id, topology: top.plan.name, tenant: run.tenant, user: run.user, project: run.project, variant: run.decision?.variant };
  }

  /** Asks the guards about a tool call of the node's run; reports what they decided. */
  checkTool(ctx: NodeCtx, check: Omit<ToolCheck, keyof GuardSubject>): ToolVerdict | Promise<ToolVerdict> {
    const guards = this.guards;
    if (guards === undefined) return ALLOW_TOOL;
    const v = guards.tool({ ...this.#subject(ctx), ...check });
    if (typeof (v as { then?: unknown }).then === 'function') return (v as Promise<ToolVerdict>).then((r) => this.#reportTool(ctx, check.tool, r));
    return this.#reportTool(ctx, check.tool, v as ToolVerdict);
  }

  #reportTool(ctx: NodeCtx, tool: string, v: ToolVerdict): ToolVerdict {
    if (!this.core.bus.observed || (v.action === 'allow' && v.rule === undefined && !Object.hasOwn(v, 'args'))) return v;
    const e = this.#decision(ctx, 'tool', v.action, v.rule, undefined);
    e.tool = tool;
    if (v.action === 'deny') e.error = serializeError(v.error);
    else if (Object.hasOwn(v, 'args')) e.requestChanged = true;
    this.core.bus.next(e);
    return v;
  }

  /** Asks the guards about a model call of the node's run (as its top-level run); reports what they decided. */
  checkCall(ctx: NodeCtx, check: Omit<CallCheck, keyof GuardSubject | 'estimate'>): CallVerdict | Promise<CallVerdict> {
    const guards = this.guards;
    if (guards === undefined) return ALLOW;
    const v = guards.call(lazyCallCheck(this.#subject(ctx), check));
    if (typeof (v as { then?: unknown }).then === 'function') return (v as Promise<CallVerdict>).then((r) => this.#reportCall(ctx, check.model, r));
    return this.#reportCall(ctx, check.model, v as CallVerdict);
  }

  #reportCall(ctx: NodeCtx, model: string, v: CallVerdict): CallVerdict {
    if (!this.core.bus.observed) return v;
    if (v.action === 'allow') {
      if (v.rule === undefined && v.request === undefined && v.model === undefined) return v;
      const e = this.#decision(ctx, 'call', 'allow', v.rule, model);
      if (v.model !== undefined) e.routedTo = v.model;
      if (v.request !== undefined) e.requestChanged = true;
      this.core.bus.next(e);
    } else {
      const e = this.#decision(ctx, 'call', v.action, v.rule, model);
      if (v.action === 'deny') e.error = serializeError(v.error);
      this.core.bus.next(e);
    }
    return v;
  }

  decidedOutput(ctx: NodeCtx, model: string, v: OutputVerdict): void {
    if (v.action === 'allow' || !this.core.bus.observed) return;
    const e = this.#decision(ctx, 'output', v.action, v.rule, model);
    if (v.action === 'deny') e.error = serializeError(v.error);
    this.core.bus.next(e);
  }

  #decision(ctx: NodeCtx, stage: PolicyDecisionEvent['stage'], action: PolicyDecisionEvent['action'], rule: string | undefined, model: string | undefined): Writable<PolicyDecisionEvent> {
    const run = ctx.run;
    const e: Writable<PolicyDecisionEvent> = { type: 'policy.decision', runId: run.id, topology: run.plan.name, stage, action, nodeId: ctx.nodeId, ts: Date.now() };
    if (model !== undefined) e.model = model;
    if (rule !== undefined) e.rule = rule;
    if (run.parent !== undefined) e.parentRunId = run.parent.id;
    if (run.tenant !== undefined) e.tenant = run.tenant;
    if (run.user !== undefined) e.user = run.user;
    if (run.project !== undefined) e.project = run.project;
    return e;
  }

  /** The run's override of the node (RunOptions `overrides`). */
  override(ctx: NodeCtx): NodeOverride | undefined {
    const o = ctx.run.overrides;
    return o === undefined ? undefined : o[ctx.nodeId];
  }

  /** A wait node: see {@link Waits.wait}. */
  wait(ctx: NodeCtx, request: WaitRequest): Promise<unknown> {
    return this.waits.wait(ctx, request);
  }

  /** Runs one fan-out item holding the node's pools and a global task slot. */
  async task<R>(ctx: NodeCtx, fn: () => R | PromiseLike<R>): Promise<R> {
    const run = ctx.run;
    const acq = await acquire(run.plan.itemResources[ctx.node]!, run);
    try {
      if (run.status !== R_RUNNING) throw new CancelledError('run ended before the task started');
      return await fn();
    } finally {
      acq?.releaseHeld();
    }
  }

  /** Runs a sub-topology as a child of the node's run: same priority, deadline and signal. */
  runChild(t: AnyTopology, input: unknown, ctx: NodeCtx): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const c = this.compile(t);
      const parent = ctx.run;
      const parsed = c.plan.parseInput(input);
      if (!parsed.ok) {
        reject(new ValidationError('INPUT_INVALID', `input of sub-topology '${c.plan.name}' is invalid`, parsed.issues));
        return;
      }
      const core = this.core;
      const run = new Run(core.nextId(), c.plan, parsed.value, parent.level, parent.deadline, parent, (r) => {
        if (r.status === R_COMPLETED) resolve(r.output);
        else reject(r.error);
      });
      run.parentNode = ctx.node;
      run.decision = parent.decision;
      run.tenant = parent.tenant;
      run.user = parent.user;
      run.project = parent.project;
      const signal = ctx.signal;
      if (signal.aborted) {
        core.finish(run, R_CANCELLED, new CancelledError('parent run ended', signal.reason));
        return;
      }
      run.cleanup = onAbort(signal, (reason) => core.finish(run, R_CANCELLED, new CancelledError('parent run ended', reason)));
      c.beginChild(run);
    });
  }

  /** Publishes one token: to the node's streaming consumers, and on the bus. */
  token(ctx: NodeCtx, index: number, text: string): void {
    const run = ctx.run;
    const ch = run.channels?.[ctx.node];
    if (ch !== undefined) ch.subject.next({ kind: 'token', index, text });
    const bus = this.core.bus;
    if (bus.observed) {
      const e: Writable<TokenEvent> = { type: 'node.token', runId: run.id, topology: run.plan.name, nodeId: ctx.nodeId, index, text, ts: Date.now() };
      if (run.parent !== undefined) e.parentRunId = run.parent.id;
      bus.next(e);
    }
  }

  /** Tells streaming consumers (and the bus) that the node restarted its call. */
  restart(ctx: NodeCtx, reason: string): void {
    const run = ctx.run;
    run.channels?.[ctx.node]?.subject.next({ kind: 'restart', reason });
    const bus = this.core.bus;
    if (bus.observed) {
      const e: Writable<RestartEvent> = { type: 'node.restart', runId: run.id, topology: run.plan.name, nodeId: ctx.nodeId, reason, ts: Date.now() };
      if (run.parent !== undefined) e.parentRunId = run.parent.id;
      bus.next(e);
    }
  }

  get observed(): boolean {
    return this.core.bus.observed;
  }

  /** Puts one ended model call on the bus (when observed). */
  modelCall(ctx: NodeCtx, call: ModelCall): void {
    const bus = this.core.bus;
    if (!bus.observed) return;
    const run = ctx.run;
    const e: Writable<ModelCallEvent> = { type: 'model.call', runId: run.id, topology: run.plan.name, nodeId: ctx.nodeId, ...call };
    if (run.parent !== undefined) e.parentRunId = run.parent.id;
    if (run.tenant !== undefined) e.tenant = run.tenant;
    if (run.user !== undefined) e.user = run.user;
    if (run.project !== undefined) e.project = run.project;
    const variant = run.decision?.variant;
    if (variant !== undefined) e.variant = variant;
    bus.next(e);
  }

  account(ctx: NodeCtx, usage: Usage, costUsd: number, model?: string): void {
    this.book.account(ctx.run, ctx.node, ctx.nodeId, usage, costUsd, model);
  }

  budget(ctx: NodeCtx): RetryBudget {
    return (ctx.run.budget ??= { remaining: this.resilience.retryBudget });
  }

  note(ctx: NodeCtx, note: NodeNote): void {
    const run = ctx.run;
    (run.notes ??= new Map()).set(run.trace.length >> 1, note);
    this.core.record(run, note.type === 'retry' ? EV.NODE_RETRY : EV.NODE_FALLBACK, ctx.node);
  }
}

const ALLOW: CallVerdict = { action: 'allow' };
const ALLOW_TOOL: ToolVerdict = { action: 'allow' };
