/**
 * The node executor: calls a node's function with its context and settles the
 * node from what it returns (sync value, promise, throw), applying its timeout,
 * output schema, retries, remote dispatch and token channel.
 *
 * What a node holds while it works — its stage slot (`cap`), its pools and the
 * global task slot — is held until its function actually settles. A node that
 * times out fails at once (the run fails, or moves on through `onError`, with the
 * TimeoutError), but its slots stay taken until the timed-out function returns,
 * exactly as for a node whose run was cancelled: a function that ignores its
 * signal keeps its slot.
 * @module
 */
import { ReplaySubject } from 'rxjs';
import { CancelledError, NodeError, StoppedError, TimeoutError, ValidationError, serializeError, toIssues } from '../errors.ts';
import type { ExecServices, NodeDef, RemoteExecutor, StreamChunk } from '../definition/types.ts';
import { onAbort } from '../primitives/abort.ts';
import { withRetries } from '../resilience/retry.ts';
import type { Core } from './core.ts';
import { NodeCtx } from './ctx.ts';
import { EV } from './events.ts';
import type { Stages } from './ready.ts';
import type { Acquire } from './resources.ts';
import type { Run } from './run.ts';
import { ACTIVE_PARENT, DONE, FAILED, PRIORITIES, R_FAILED, R_RUNNING, RUNNING } from './states.ts';

/**
 * What the executor moves runs on with: its compiled topology.
 *
 * @example
 * ```ts
 * host.settleEarly(run, i); // a timed-out node with onError: its fallback starts now
 * ```
 */
export interface NodeHost extends Stages {
  /** Node `node` of `run` failed before its function returned (a timeout handled by `onError`): move the run on now. */
  settleEarly(run: Run, node: number): void;
}

/**
 * Executes the nodes of one compiled topology.
 *
 * @example
 * ```ts
 * const exec = new Executor(core, services, remote, compiled);
 * exec.start(run, i, done, acquired); // `done` frees the stage slot and emits the run
 * ```
 */
export class Executor {
  constructor(
    private readonly core: Core,
    private readonly services: ExecServices,
    private readonly remote: RemoteExecutor | undefined,
    private readonly host: NodeHost,
  ) {}

  /**
   * Starts node `i` of `run`. `done` (the stage's) is called once, when the node's
   * function has settled, after `acq`'s resources are released.
   */
  start(run: Run, i: number, done: () => void, acq: Acquire | undefined): void {
    const plan = run.plan;
    const node = plan.nodes[i]!;
    run.state[i] = RUNNING;
    this.core.record(run, EV.NODE_STARTED, i);
    const ctx = new NodeCtx(run, i, node.config);
    // No closure per node unless resources must be released.
    const finish: () => void = acq === undefined ? done : () => { acq.releaseHeld(); done(); };
    const timeout = timeoutFor(run, node);
    const kids = plan.streamKids[i]!;
    if (timeout !== undefined || kids.length > 0) this.#arm(ctx, timeout);
    if (kids.length > 0) this.#openChannel(ctx, kids);
    let value: unknown;
    try {
      value = node.remote !== undefined && run.single !== i ? this.#dispatch(ctx, node)
        : node.retry !== undefined && node.kind !== 'llm' ? this.#withRetry(ctx, node)
          : node.execute(ctx, this.services);
    } catch (e) {
      this.#fail(ctx, e, finish);
      return;
    }
    if (isPromiseLike(value)) {
      value.then(
        (v) => this.#ok(ctx, v, finish),
        (e: unknown) => this.#fail(ctx, e, finish),
      );
    } else this.#ok(ctx, value, finish);
  }

  /** Sends a remote node to its worker group and waits for its output. */
  #dispatch(ctx: NodeCtx, node: NodeDef): Promise<unknown> {
    const run = ctx.run;
    return this.remote!.execute({
      topology: run.plan.name, group: node.remote!, nodeId: node.id, runId: run.id, input: run.input, deps: ctx.deps,
      priority: PRIORITIES[run.level]!, deadline: run.deadline === Infinity ? undefined : run.deadline,
    }, ctx.signal);
  }

  /** Runs a node's function with its retry settings (llm nodes retry per model call instead). */
  #withRetry(ctx: NodeCtx, node: NodeDef): Promise<unknown> {
    const services = this.services;
    return withRetries(`node '${node.id}'`, async () => node.execute(ctx, services), { ...services.resilience.retry, ...node.retry }, {
      signal: ctx.signal,
      budget: services.budget(ctx),
      onRetry: (error, attempt, delayMs) => services.note(ctx, { type: 'retry', attempt, delayMs, error: serializeError(error) }),
    });
  }

  /** Gives the node its own controller (following the run's signal) and, with a timeout, its timer. */
  #arm(ctx: NodeCtx, timeout: number | undefined): void {
    const ctl = new AbortController();
    ctx.ctl = ctl;
    const runSignal = ctx.run.signal;
    // onAbort would call back on a later tick for a signal aborted already: follow it now instead
    if (runSignal.aborted) ctl.abort(runSignal.reason);
    else ctx.unlink = onAbort(runSignal, (reason) => ctl.abort(reason));
    if (timeout === undefined) return;
    ctx.timer = setTimeout(() => {
      const err = new TimeoutError(`node '${ctx.nodeId}'`, timeout);
      ctl.abort(err);
      this.#timedOut(ctx, err);
    }, timeout);
  }

  #disarm(ctx: NodeCtx): void {
    if (ctx.timer !== undefined) clearTimeout(ctx.timer);
    if (ctx.unlink !== undefined) ctx.unlink();
  }

  /**
   * Opens the token channel of a producer and starts its streaming consumers now,
   * before the producer's function is called, so they see (and can stop) its first
   * token even when it streams synchronously. Only llm nodes produce, so this nests
   * one level per streaming edge, never per node of a chain.
   */
  #openChannel(ctx: NodeCtx, kids: readonly number[]): void {
    const run = ctx.run;
    const ctl = ctx.ctl!;
    (run.channels ??= [])[ctx.node] = { subject: new ReplaySubject<StreamChunk>(), stop: (reason) => ctl.abort(new StoppedError(reason)) };
    for (let k = 0; k < kids.length; k++) {
      const c = kids[k]!;
      run.mark[c]! |= ACTIVE_PARENT;
      if (--run.pending[c]! === 0) this.host.enter(run, c);
    }
  }

  #ok(ctx: NodeCtx, value: unknown, finish: () => void): void {
    // a timed-out node's function returned at last: free its slots
    if (ctx.settled) return finish();
    ctx.settled = true;
    if (ctx.ctl !== undefined) this.#disarm(ctx);
    const run = ctx.run;
    const i = ctx.node;
    if (run.status !== R_RUNNING) {
      closeChannel(run, i, run.error ?? new CancelledError('run ended'));
      return finish();
    }
    const plan = run.plan;
    const node = plan.nodes[i]!;
    if (node.output !== undefined) {
      const r = node.output.safeParse(value);
      if (!r.success) {
        ctx.settled = false;
        return this.#fail(ctx, new ValidationError('OUTPUT_INVALID', `node '${node.id}' produced an invalid output`, toIssues(r.error.issues, ['output'])), finish);
      }
      value = r.data;
    }
    if (plan.isRoute[i] && (typeof value !== 'string' || !Object.hasOwn(node.branches!, value))) {
      ctx.settled = false;
      const known = Object.keys(node.branches!).join(', ');
      return this.#fail(ctx, new ValidationError('ROUTE_UNKNOWN_BRANCH', `route '${node.id}' chose ${JSON.stringify(value)}`, [{ code: 'unknown_branch', path: ['branch'], message: `not one of its branches (${known})` }]), finish);
    }
    run.outputs[i] = value;
    run.state[i] = DONE;
    closeChannel(run, i);
    this.core.record(run, EV.NODE_COMPLETED, i);
    finish();
  }

  #fail(ctx: NodeCtx, cause: unknown, finish: () => void): void {
    if (ctx.settled) return finish();
    ctx.settled = true;
    if (ctx.ctl !== undefined) this.#disarm(ctx);
    const run = ctx.run;
    if (run.status !== R_RUNNING) {
      closeChannel(run, ctx.node, run.error ?? cause);
      return finish();
    }
    this.#failNode(run, ctx.node, cause);
    finish();
  }

  /** The node's timer fired: it fails now; its function keeps its slots until it returns. */
  #timedOut(ctx: NodeCtx, err: TimeoutError): void {
    if (ctx.settled) return;
    ctx.settled = true;
    if (ctx.unlink !== undefined) ctx.unlink();
    const run = ctx.run;
    if (run.status !== R_RUNNING) return closeChannel(run, ctx.node, run.error ?? err);
    this.#failNode(run, ctx.node, err);
    if (run.status === R_RUNNING) this.host.settleEarly(run, ctx.node);
  }

  /** Records node `i`'s failure; fails the run unless an `onError` edge takes over. */
  #failNode(run: Run, i: number, cause: unknown): void {
    const error = new NodeError(run.plan.ids[i]!, cause);
    closeChannel(run, i, error);
    (run.errors ??= [])[i] = error;
    run.state[i] = FAILED;
    this.core.record(run, EV.NODE_FAILED, i);
    if (run.plan.nodes[i]!.onError === undefined) this.core.finish(run, R_FAILED, error);
  }
}

/** Whether a node function returned a promise (or any thenable) rather than its output. */
function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function');
}

/** The node's effective timeout: its own, shortened by what is left of the run deadline. */
function timeoutFor(run: Run, node: NodeDef): number | undefined {
  if (run.deadline === Infinity) return node.timeoutMs;
  const left = Math.max(1, run.deadline - Date.now());
  return node.timeoutMs === undefined ? left : Math.min(node.timeoutMs, left);
}

/** Completes (or errors) the token channel of node `i`, if it has one. */
function closeChannel(run: Run, i: number, error?: unknown): void {
  const ch = run.channels?.[i];
  if (ch === undefined) return;
  if (error === undefined) ch.subject.complete();
  else ch.subject.error(error);
}
