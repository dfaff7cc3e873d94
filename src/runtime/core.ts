/**
 * The run bookkeeping every compiled topology of one engine shares: the event
 * bus and each run's trace, how a run ends (cancelling its running nodes,
 * compensating, recording its terminal event, delivering it), the runs in
 * flight, shutdown state, run ids, and the ready queue.
 * @module
 */
import { Subject } from 'rxjs';
import type { OrchestratorError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { EV, type EngineEvent } from './events.ts';
import { abortReasonOf, eventAt } from './history.ts';
import { compensate, compensations } from './compensate.ts';
import { ReadyQueue } from './ready.ts';
import type { Run } from './run.ts';
import { R_COMPLETED, R_FAILED, R_RUNNING, RUNNING } from './states.ts';

/** Terminal event code by run status (R_COMPLETED, R_FAILED, R_CANCELLED; R_RUNNING has none). */
const TERMINAL: readonly number[] = [-1, EV.RUN_COMPLETED, EV.RUN_FAILED, EV.RUN_CANCELLED];

/**
 * Shared run bookkeeping of one engine.
 *
 * @example
 * ```ts
 * const core = new Core(logger, 'job-');
 * core.record(run, EV.RUN_STARTED, 0);
 * core.finish(run, R_COMPLETED);
 * ```
 */
export class Core {
  /** Every lifecycle event and token of every run. Events are built only while someone listens. */
  readonly bus = new Subject<EngineEvent>();
  /** Runs admitted or waiting for admission (not child runs). */
  readonly active = new Set<Run>();
  /** Nodes ready to enter their stage. */
  readonly ready = new ReadyQueue();
  readonly log: Logger;
  /** Shutdown began: new runs are refused. */
  closing = false;
  /** Shutdown cancels every run: admitted runs must not start. */
  cancelling = false;
  /** Called when the last active run is delivered during shutdown. */
  drained: (() => void) | undefined = undefined;
  readonly #prefix: string;
  #counter = 0;

  constructor(log: Logger, runIdPrefix: string) {
    this.log = log;
    this.#prefix = runIdPrefix;
  }

  /** A fresh run id. */
  nextId(): string {
    return this.#prefix + (++this.#counter).toString(36);
  }

  /** Appends an event to the run's trace; publishes it when the bus has a subscriber. */
  record(run: Run, code: number, node: number): void {
    const idx = run.trace.length >> 1;
    run.trace.push(code | (node << 4), Date.now());
    const journal = run.journal;
    if (journal !== undefined) {
      const e = eventAt(run, idx);
      journal.add(e);
      if (this.bus.observed) this.bus.next(e);
    } else if (this.bus.observed) this.bus.next(eventAt(run, idx));
  }

  readonly #record = (run: Run, code: number, node: number): void => this.record(run, code, node);

  /**
   * Ends a run (once; later calls do nothing). A failed or cancelled run records
   * node.cancelled for each node still running and aborts their signals; a failed
   * run then runs its compensations. The terminal run event comes last, then the
   * run is delivered.
   */
  finish(run: Run, status: number, error?: OrchestratorError): void {
    if (run.status !== R_RUNNING) return;
    run.status = status;
    run.error = error;
    if (status !== R_COMPLETED) {
      const state = run.state;
      for (let i = 0; i < state.length; i++) if (state[i] === RUNNING) this.record(run, EV.NODE_CANCELLED, i);
      this.log.debug({ runId: run.id, topology: run.plan.name, code: error?.code }, error?.message ?? 'run ended');
      if (run.ctl !== undefined) run.ctl.abort(abortReasonOf(status, error));
    }
    if (run.cleanup !== undefined) run.cleanup();
    const undo = status === R_FAILED ? compensations(run) : undefined;
    if (undo === undefined || undo.length === 0) this.#end(run);
    else void compensate(run, undo, this.#record, this.log).then(() => this.#end(run));
  }

  /**
   * Records the terminal event, hands the run to its caller and frees its admission slot.
   * A durable run is handed over once its journal has stored everything (or failed to).
   */
  #end(run: Run): void {
    run.endedAt = Date.now();
    this.record(run, TERMINAL[run.status]!, 0);
    const journal = run.journal;
    if (journal !== undefined) journal.whenDurable(() => this.#deliver(run));
    else this.#deliver(run);
  }

  /** Hands a run to its caller and frees its slots (also a parked run, which records no terminal event). */
  deliver(run: Run): void {
    this.#deliver(run);
  }

  #deliver(run: Run): void {
    if (run.parent === undefined) this.active.delete(run);
    run.onEnd(run);
    if (run.admission !== undefined) run.admission.release();
    if (this.drained !== undefined && this.active.size === 0) this.drained();
  }
}
