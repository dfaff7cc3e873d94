/**
 * A topology compiled for one engine: a long-lived RxJS stage per node, wired by
 * propagation that moves each run along the edges whose gates open. Built once;
 * runs flow through it without building any pipeline per run.
 *
 * A node's stage `cap` bounds how many executions of that node are in progress at
 * once, across every run of the topology on this engine: a run's node takes a slot
 * when it is ready (waiting runs queue by priority, with aging), keeps it while it
 * waits for its pools and the global task slot and while its function runs, and
 * frees it only when that function has settled, also when a timeout or the end of
 * the run already settled the node for its run.
 * @module
 */
import { Subject, Subscription } from 'rxjs';
import { CancelledError } from '../errors.ts';
import type { ExecServices, RemoteExecutor } from '../definition/types.ts';
import { Limiter } from '../primitives/limiter.ts';
import type { FlowWeight } from '../primitives/fair-queue.ts';
import type { Core } from './core.ts';
import { EV } from './events.ts';
import { Executor, type NodeHost } from './executor.ts';
import { G_ALWAYS, G_BRANCH, G_ERROR, G_STREAM, G_SUCCESS, type Plan, type Resume } from './plan.ts';
import { Acquire } from './resources.ts';
import type { Run } from './run.ts';
import {
  ACTIVE_PARENT, DONE, FAILED, INACTIVE_PARENT, RESUMING, R_CANCELLED, R_COMPLETED, R_FAILED, R_RUNNING, SETTLED_EARLY, SKIPPED, WAITING,
} from './states.ts';
import { stage } from './stage.ts';

/**
 * A topology compiled for one engine.
 *
 * @example
 * ```ts
 * const c = new Compiled(plan, core, services, undefined, 16);
 * if (c.admission.submit(run, run.level) === 'granted') c.begin(run);
 * ```
 */
export class Compiled implements NodeHost {
  readonly plan: Plan;
  /** Runs of this topology in flight on the engine (admitted ones hold a slot). */
  readonly admission: Limiter<Run>;
  readonly #core: Core;
  readonly #exec: Executor;
  readonly #inputs: readonly Subject<Run>[];
  readonly #subscription: Subscription;

  constructor(plan: Plan, core: Core, services: ExecServices, remote: RemoteExecutor | undefined, agingGrants: number, weight?: FlowWeight) {
    this.plan = plan;
    this.#core = core;
    this.#exec = new Executor(core, services, remote, this);
    this.admission = new Limiter<Run>(plan.maxInFlight, (run) => this.begin(run), weight === undefined ? { agingGrants } : { agingGrants, weight });
    const inputs: Subject<Run>[] = [];
    const all = new Subscription();
    for (let i = 0; i < plan.ids.length; i++) {
      const input = new Subject<Run>();
      inputs.push(input);
      all.add(
        input
          .pipe(stage<Run>({ cap: plan.nodes[i]!.cap ?? Infinity, level: (run) => run.level, flow: (run) => run.tenant, work: (run, done) => this.#work(run, i, done), agingGrants, weight }))
          .subscribe((run) => this.#settled(run, i)),
      );
    }
    this.#inputs = inputs;
    this.#subscription = all;
  }

  /** Starts an admitted run: records it, applies its resume, makes its roots ready. */
  begin(run: Run): void {
    if (run.status !== R_RUNNING) {
      this.admission.release();
      return;
    }
    run.admission = this.admission;
    const core = this.#core;
    if (core.cancelling) {
      core.finish(run, R_CANCELLED, new CancelledError('engine shut down'));
      return;
    }
    core.record(run, EV.RUN_STARTED, 0);
    if (run.resume !== undefined) this.#applyResume(run, run.resume);
    this.#startRoots(run);
  }

  /** Runs a child topology run directly (no admission: it is part of its parent's budget). */
  beginChild(run: Run): void {
    this.#core.record(run, EV.RUN_STARTED, 0);
    this.#startRoots(run);
  }

  /** Executes one node of a fresh run whose dependencies' outputs are given (for remote workers). */
  beginSingle(run: Run, i: number, deps: Readonly<Record<string, unknown>>): void {
    run.single = i;
    for (const [id, value] of Object.entries(deps)) {
      const p = this.plan.indexOf(id);
      if (p === undefined) continue;
      run.state[p] = DONE;
      run.outputs[p] = value;
    }
    this.#core.record(run, EV.RUN_STARTED, 0);
    this.#inputs[i]!.next(run);
  }

  #startRoots(run: Run): void {
    const roots = this.plan.roots;
    for (let k = 0; k < roots.length; k++) this.#core.ready.push(this, run, roots[k]!);
  }

  #applyResume(run: Run, resume: Resume): void {
    const plan = this.plan;
    const skipped = new Set(resume.skipped);
    const order = plan.graph.order!;
    for (const i of order) if (Object.hasOwn(resume.outputs, plan.ids[i]!) || skipped.has(plan.ids[i]!)) run.state[i] = RESUMING;
    for (const i of order) {
      if (run.state[i] !== RESUMING) continue;
      const id = plan.ids[i]!;
      if (Object.hasOwn(resume.outputs, id)) {
        run.outputs[i] = resume.outputs[id];
        run.state[i] = DONE;
        this.#core.record(run, EV.NODE_RESUMED, i);
      } else {
        run.state[i] = SKIPPED;
        this.#core.record(run, EV.NODE_SKIPPED, i);
      }
      this.#propagate(run, i, true);
    }
  }

  /** Node `c` of `run` is ready (every parent settled): it enters its stage, or is skipped. */
  enter(run: Run, c: number): void {
    if (run.status !== R_RUNNING || run.state[c] !== WAITING) return;
    const m = run.mark[c]!;
    const go = this.plan.isJoin[c] ? (m & ACTIVE_PARENT) !== 0 : (m & INACTIVE_PARENT) === 0;
    if (go) this.#inputs[c]!.next(run);
    else {
      run.state[c] = SKIPPED;
      this.#core.record(run, EV.NODE_SKIPPED, c);
      this.#propagate(run, c);
    }
  }

  /** Stage work for node `i` of `run`: acquire its resources, then execute it. */
  #work(run: Run, i: number, done: () => void): void {
    if (run.status !== R_RUNNING) return done();
    const res = this.plan.resources[i]!;
    if (res.length === 0) return this.#exec.start(run, i, done, undefined);
    new Acquire(res, run, (a) => {
      if (run.status !== R_RUNNING) {
        a.releaseHeld();
        return done();
      }
      this.#exec.start(run, i, done, a);
    }).proceed();
  }

  /** Stage output: node `i`'s function settled (or the run ended before it started). */
  #settled(run: Run, i: number): void {
    if (run.status !== R_RUNNING || (run.mark[i]! & SETTLED_EARLY) !== 0) return;
    const journal = run.journal;
    // a durable run's completed node moves on only once its output is stored; a leaf has no
    // child to wait (the run's end, which it may bring, is handed over once stored anyway)
    if (journal !== undefined && run.state[i] === DONE && this.plan.childTo[i]!.length > 0) {
      journal.whenDurable(() => {
        if (run.status === R_RUNNING) this.#moveOn(run, i);
      });
      return;
    }
    this.#moveOn(run, i);
  }

  /** Node `i` failed by its timeout and an `onError` edge takes over: move the run on now; its stage output comes later. */
  settleEarly(run: Run, i: number): void {
    run.mark[i]! |= SETTLED_EARLY;
    this.#moveOn(run, i);
  }

  /** Node `i` completed or failed (or was dropped): end a single-node run, else propagate. */
  #moveOn(run: Run, i: number): void {
    if (run.single === i) {
      // a single-node run ends with its node (a failure without onError already failed it)
      if (run.state[i] === DONE) this.#core.finish(run, R_COMPLETED);
      else this.#core.finish(run, R_FAILED, run.errors?.[i]);
      return;
    }
    if (run.state[i] === DONE || run.state[i] === FAILED) this.#propagate(run, i);
  }

  #propagate(run: Run, i: number, resumed = false): void {
    const plan = this.plan;
    run.remaining--;
    const st = run.state[i];
    const to = plan.childTo[i]!;
    const gates = plan.childGate[i]!;
    for (let k = 0; k < to.length; k++) {
      const c = to[k]!;
      const g = gates[k]!;
      // a streaming edge was already taken when the producer started (unless it never ran)
      if (g === G_STREAM && st !== SKIPPED && !resumed) continue;
      const active = st === DONE
        ? g === G_ALWAYS || g === G_SUCCESS || g === G_STREAM || (g === G_BRANCH && plan.childBranches[i]![k]!.has(run.outputs[i]))
        : st === FAILED && g === G_ERROR;
      run.mark[c]! |= active ? ACTIVE_PARENT : INACTIVE_PARENT;
      if (--run.pending[c]! === 0) this.#core.ready.push(this, run, c);
    }
    if (run.remaining === 0 && run.status === R_RUNNING) this.#core.finish(run, R_COMPLETED);
  }

  /** Completes every stage: in-flight work finishes, nothing new is accepted. */
  close(): void {
    for (const s of this.#inputs) s.complete();
    this.#subscription.unsubscribe();
  }
}
