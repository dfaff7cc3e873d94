/**
 * Waits of one engine: what a `wait` node does when its run reaches it.
 *
 * - A run resumed from a wait (`run.wake`) completes the wait at once with the
 *   signal's payload, or fails it with WAIT_TIMEOUT.
 * - A durable top-level run is **parked**: once everything it recorded is stored,
 *   its journal stops, `run.waiting` (nodeId, name, timeoutAt: its wait's timeout or its
 *   run's deadline, whichever comes first) is appended, its lease
 *   is released and it is delivered to its caller with status `waiting`. Nothing of
 *   it stays in the process: no Run, no timer (timeouts are found by claims with
 *   `wakeable`, see `engine.recover({ wake: true })` and `durable.sweepMs`). Nodes
 *   running beside the wait at that moment are abandoned and run again on resume.
 * - Any other run (no store, or a child run of a sub-topology) waits in memory until
 *   `engine.signal`, with a timer for its timeout.
 * @module
 */
import { CancelledError, StoreError, ValidationError, WaitError, isStoreError, toIssues } from '../errors.ts';
import type { WaitRequest } from '../definition/types.ts';
import type { Logger } from '../logger.ts';
import { onAbort } from '../primitives/abort.ts';
import type { Core } from './core.ts';
import type { NodeCtx } from './ctx.ts';
import type { Durable } from './durable.ts';
import type { FoldedRun } from './fold.ts';
import { rootOf, type Run, type Wake } from './run.ts';
import { R_CANCELLED, R_FAILED, R_RUNNING, R_WAITING } from './states.ts';
import type { RunParkedEvent } from './events.ts';
import type { StoredEvent } from './store.ts';

/** A run waiting in memory. */
interface MemoryWaiter {
  readonly request: WaitRequest;
  readonly resolve: (payload: unknown) => void;
}

/**
 * The waits of one engine.
 *
 * @example
 * ```ts
 * const waits = new Waits(core, durable, log);
 * const payload = await waits.wait(ctx, { name: 'approve', schema });
 * ```
 */
export class Waits {
  readonly #core: Core;
  readonly #durable: Durable | undefined;
  readonly #log: Logger;
  /** In-memory waits by top-level run id, then wait name. */
  readonly #memory = new Map<string, Map<string, MemoryWaiter>>();

  constructor(core: Core, durable: Durable | undefined, log: Logger) {
    this.#core = core;
    this.#durable = durable;
    this.#log = log;
  }

  /** What a wait node's `execute` returns. */
  wait(ctx: NodeCtx, request: WaitRequest): Promise<unknown> {
    const run = ctx.run;
    const wake = run.wake;
    if (wake !== undefined && wake.nodeId === ctx.nodeId) {
      if (wake.timedOut === true) return Promise.reject(timeoutError(ctx.nodeId, request, wake.timeoutAt));
      const parsed = request.schema.safeParse(wake.payload);
      return parsed.success ? Promise.resolve(parsed.data)
        : Promise.reject(new ValidationError('SIGNAL_INVALID', `the stored payload of signal '${request.name}' no longer fits the schema of wait node '${ctx.nodeId}'`, toIssues(parsed.error.issues, ['payload'])));
    }
    if (run.journal !== undefined && run.parent === undefined && this.#durable !== undefined) return this.#park(run, ctx.node, request);
    return this.#inMemory(ctx, request);
  }

  /**
   * Delivers a signal to a run waiting in memory. Resolves the wait and returns true;
   * returns false when no run of that id waits in memory. Throws WaitError
   * `WAIT_NAME_MISMATCH` or ValidationError `SIGNAL_INVALID` (naming the field).
   */
  signalMemory(runId: string, name: string, payload: unknown): boolean {
    const byName = this.#memory.get(runId);
    if (byName === undefined) return false;
    const w = byName.get(name);
    if (w === undefined) {
      throw new WaitError('WAIT_NAME_MISMATCH', `run '${runId}' waits for ${[...byName.keys()].map((n) => `'${n}'`).join(', ')}, not for '${name}'`);
    }
    w.resolve(parseSignal(w.request, payload));
    return true;
  }

  #inMemory(ctx: NodeCtx, request: WaitRequest): Promise<unknown> {
    const root = rootOf(ctx.run);
    const name = request.name;
    return new Promise((resolve, reject) => {
      let byName = this.#memory.get(root.id);
      if (byName === undefined) this.#memory.set(root.id, byName = new Map());
      if (byName.has(name)) {
        reject(new ValidationError('WAIT_DUPLICATE', `run '${root.id}' already waits for '${name}' at another node`, [{ code: 'duplicate_wait', path: ['name'], message: `two waits named '${name}' at once` }]));
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        unlisten();
        const m = this.#memory.get(root.id);
        m?.delete(name);
        if (m?.size === 0) this.#memory.delete(root.id);
      };
      const unlisten = onAbort(ctx.signal, (reason) => {
        done();
        reject(reason);
      });
      byName.set(name, {
        request, resolve: (payload) => {
          done();
          resolve(payload);
        },
      });
      if (request.timeoutMs !== undefined) {
        const ms = request.timeoutMs;
        timer = setTimeout(() => {
          done();
          reject(timeoutError(ctx.nodeId, request, Date.now()));
        }, ms);
      }
    });
  }

  /** Parks a durable run: see the module doc. The wait node's own promise rejects (ignored: the run is no longer running). */
  #park(run: Run, node: number, request: WaitRequest): Promise<unknown> {
    const durable = this.#durable!;
    const journal = run.journal!;
    if (run.status !== R_RUNNING || !journal.open) return Promise.reject(new CancelledError('run ended before its wait'));
    const nodeId = run.plan.ids[node]!;
    // it wakes at its wait's timeout or its run's deadline, whichever comes first (its deadline then fails it)
    const now = durable.now();
    const waitEnd = request.timeoutMs === undefined ? Infinity : now + request.timeoutMs;
    const end = Math.min(waitEnd, run.deadline === Infinity ? Infinity : now + Math.max(0, run.deadline - Date.now()));
    const timeoutAt = end === Infinity ? undefined : end;
    run.status = R_WAITING;
    run.endedAt = Date.now(); // when it left the process (a waiting result's `endedAt`)
    run.parked = timeoutAt === undefined ? { nodeId, name: request.name } : { nodeId, name: request.name, timeoutAt };
    run.error = new WaitError('RUN_PARKED', `run '${run.id}' is parked on wait '${request.name}' (node '${nodeId}'); engine.signal resumes it`);
    // nodes running beside the wait stop; unrecorded, they run again on resume
    if (run.ctl !== undefined) run.ctl.abort(new CancelledError(`run parked on wait '${request.name}'`));
    if (run.cleanup !== undefined) {
      run.cleanup();
      run.cleanup = undefined;
    }
    journal.whenDurable(() => void this.#leave(run));
    return Promise.reject(new CancelledError(`run parked on wait '${request.name}'`));
  }

  /** Everything the run recorded is stored (or its journal broke or was detached): store the wait, release the run, deliver it. */
  async #leave(run: Run): Promise<void> {
    const durable = this.#durable!;
    const journal = run.journal!;
    const parked = run.parked!;
    if (run.status === R_WAITING && !journal.open) {
      // lease lost or engine shut down meanwhile: the stored run is resumed (and parks again) elsewhere
      run.status = R_CANCELLED;
      run.error = new CancelledError(`run '${run.id}' was left to be recovered while parking on wait '${parked.name}'`);
    } else if (run.status === R_WAITING) {
      journal.detach();
      const e: Record<string, unknown> = {
        runId: run.id, seq: run.seqBase + (run.trace.length >> 1), ts: durable.now(), type: 'run.waiting', topology: run.plan.name, nodeId: parked.nodeId, name: parked.name,
      };
      if (parked.timeoutAt !== undefined) e['timeoutAt'] = parked.timeoutAt;
      const err = await durable.store.append([e as unknown as StoredEvent]).then(() => undefined, (x: unknown) => x);
      if (err !== undefined) {
        this.#log.error({ runId: run.id, err }, 'storing a run.waiting event failed: the run fails here (its stored log resumes and parks again on recovery)');
        run.status = R_FAILED;
        run.error = isStoreError(err) ? err : new StoreError('STORE_FAILED', `storing the wait of run '${run.id}' failed`, { cause: err });
      }
      await durable.store.release(durable.owner, [run.id]).catch((x: unknown) => this.#log.warn({ runId: run.id, err: x }, 'releasing a parked run failed; its lease expires on its own'));
      const bus = this.#core.bus;
      if (run.status === R_WAITING && bus.observed) {
        const p: { -readonly [K in keyof RunParkedEvent]: RunParkedEvent[K] } = { type: 'run.parked', runId: run.id, topology: run.plan.name, nodeId: parked.nodeId, name: parked.name, ts: Date.now() };
        if (parked.timeoutAt !== undefined) p.timeoutAt = parked.timeoutAt;
        bus.next(p);
      }
    }
    durable.ended(run);
    this.#core.deliver(run);
  }
}

/**
 * How the wait of a stored run ended, from its folded log: the payload of the
 * `run.signalled` that follows its last `run.waiting`, or its timeout when that
 * passed by `now`. Undefined when the run is not resuming from a wait (or the wait
 * node already completed).
 *
 * @example
 * ```ts
 * run.wake = wakeOf(history, foldRun(history), Date.now());
 * ```
 */
export function wakeOf(history: readonly StoredEvent[], state: FoldedRun, now: number): Wake | undefined {
  let k = history.length - 1;
  while (k >= 0 && history[k]!.type !== 'run.waiting') k--;
  if (k < 0) return undefined;
  const w = history[k]!;
  const nodeId = w.nodeId!;
  const name = String(w['name']);
  if (state.nodes[nodeId]?.status === 'completed') return undefined;
  for (let j = k + 1; j < history.length; j++) {
    const e = history[j]!;
    if (e.type === 'run.signalled' && e['name'] === name) return { nodeId, name, payload: e['payload'] };
  }
  const timeoutAt = w['timeoutAt'];
  if (typeof timeoutAt === 'number' && timeoutAt <= now) return { nodeId, name, timedOut: true, timeoutAt };
  return undefined;
}

/**
 * Validates a signal's payload against the wait's schema: the parsed payload, or a
 * ValidationError `SIGNAL_INVALID` naming the field (under `payload`).
 *
 * @example
 * ```ts
 * const payload = parseSignal(node.wait!, { approved: true });
 * ```
 */
export function parseSignal(request: WaitRequest, payload: unknown): unknown {
  const r = request.schema.safeParse(payload);
  if (!r.success) throw new ValidationError('SIGNAL_INVALID', `the payload of signal '${request.name}' is invalid`, toIssues(r.error.issues, ['payload']));
  return r.data;
}

function timeoutError(nodeId: string, request: WaitRequest, at: number): WaitError {
  return new WaitError('WAIT_TIMEOUT', `wait node '${nodeId}' got no signal '${request.name}' within ${request.timeoutMs ?? 0} ms (timed out at ${new Date(at).toISOString()})`);
}

