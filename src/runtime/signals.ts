/**
 * `engine.signal`: the end of a wait. For a parked (stored) run: checks that it
 * waits for that signal, validates the payload with the wait node's schema, appends
 * `run.signalled`, then claims the run and resumes it in this process (claims of
 * runs signalled together are batched into one). For a run waiting in memory (no
 * store, or a sub-topology's child run): completes its wait.
 * @module
 */
import { ApprovalSchema } from '../definition/guard.ts';
import { StoreError, WaitError, isStoreError } from '../errors.ts';
import { cancelledBy } from './cancelled.ts';
import type { Compiled } from './compiled.ts';
import { isDeadOwner, type Durable } from './durable.ts';
import { foldRun } from './fold.ts';
import { parseSignal, type Waits } from './park.ts';
import { foreignNodes, foreignNodesMessage } from './recover.ts';
import type { RunResult } from './result.ts';
import type { RunRecord, StoredEvent } from './store.ts';
import { isHashOf, topologyVersion } from './version.ts';

/**
 * What `engine.signal` resolves with once the signal is accepted.
 *
 * @example
 * ```ts
 * const receipt = await engine.signal(runId, 'approve', { ok: true });
 * const r = await receipt.result; // the resumed run's result (completed, failed, or waiting again)
 * ```
 */
export interface SignalReceipt {
  readonly runId: string;
  /**
   * The resumed run's result, when this engine resumed it (a stored run). Undefined when the
   * run waited in memory (its original caller gets the result) or another process claimed it
   * first (it resumes there).
   */
  readonly result?: Promise<RunResult>;
}

/**
 * What signals need from their engine.
 *
 * @example
 * ```ts
 * const host: SignalHost = { durable, versions: () => byName, relaunch: (rec, onEnd) => relaunch(rec, onEnd) };
 * ```
 */
export interface SignalHost {
  readonly durable: Durable | undefined;
  /** Compiled topologies by name, then version. */
  versions(): ReadonlyMap<string, ReadonlyMap<string, Compiled>>;
  /**
   * Relaunches a claimed run (resuming its wait; cancelled at once when `stop` is aborted);
   * resolves with the error that stopped it.
   */
  relaunch(rec: RunRecord, onEnd: (r: RunResult) => void, stop?: AbortSignal): Promise<StoreError | undefined>;
}

interface Pending {
  readonly runId: string;
  readonly done: (r: { result?: Promise<RunResult>; error?: unknown; taken?: boolean }) => void;
  /** A cancellation: the run is relaunched only to be cancelled (`running`: its claim must succeed). */
  readonly cancel?: { readonly stop: AbortSignal; readonly was: 'waiting' | 'running' };
}

/**
 * What `engine.cancel` resolves with.
 *
 * @example
 * ```ts
 * const receipt = await engine.cancel('order-1', { reason: 'withdrawn' });
 * console.log((await receipt.result)?.status); // 'cancelled'
 * ```
 */
export interface CancelReceipt {
  readonly runId: string;
  /**
   * The run's result once it ends (`cancelled`, or how it ended first): for a stored run this
   * engine cancelled. Undefined for a run in flight in this engine (its caller gets the result)
   * and for one another process runs.
   */
  readonly result?: Promise<RunResult>;
  /**
   * For a run another live process holds: that process (its lease owner). The request is stored;
   * it cancels the run at its next lease renewal (within a third of its lease, 5 s by default),
   * or whoever recovers the run if it dies first.
   */
  readonly requestedOf?: string;
}

/**
 * The signals of one engine.
 *
 * @example
 * ```ts
 * const signals = new Signals(host, waits);
 * await signals.signal('r1', 'approve', { ok: true });
 * ```
 */
export class Signals {
  readonly #host: SignalHost;
  readonly #waits: Waits;
  #queue: Pending[] = [];
  #scheduled = false;

  constructor(host: SignalHost, waits: Waits) {
    this.#host = host;
    this.#waits = waits;
  }

  async signal(runId: string, name: string, payload: unknown): Promise<SignalReceipt> {
    if (this.#waits.signalMemory(runId, name, payload)) return { runId };
    const durable = this.#host.durable;
    if (durable === undefined) throw new WaitError('RUN_NOT_WAITING', `no run '${runId}' waits for a signal in this engine (an engine without a store keeps waits in memory)`);
    const store = durable.store;
    const rec = await store.getRun(runId);
    if (rec === undefined) throw new StoreError('RUN_NOT_FOUND', `run '${runId}' is not in the store (${store.location})`);
    if (rec.status !== 'waiting' || rec.wait === undefined) throw new WaitError('RUN_NOT_WAITING', `run '${runId}' is ${rec.status}, not waiting for a signal`);
    const wait = rec.wait;
    if (wait.name !== name) throw new WaitError('WAIT_NAME_MISMATCH', `run '${runId}' waits for '${wait.name}' (node '${wait.nodeId}'), not for '${name}'`);
    const c = this.#host.versions().get(rec.topology)?.get(rec.version);
    if (c === undefined) {
      throw new StoreError('TOPOLOGY_CHANGED', `run '${runId}' of topology '${rec.topology}' was recorded under version ${rec.version}, which this engine does not have; register that definition to signal it`);
    }
    if (!isHashOf(c.plan.topology, rec.version)) {
      // resumed by another definition (its own version, or one it resumes): refuse before the signal is recorded
      const foreign = foreignNodes(c.plan, foldRun(await store.history(runId)));
      if (foreign.length > 0) throw new StoreError('TOPOLOGY_CHANGED', foreignNodesMessage(runId, rec.topology, rec.version, topologyVersion(c.plan.topology), foreign));
    }
    const i = c.plan.indexOf(wait.nodeId);
    if (i === undefined) throw new WaitError('RUN_NOT_WAITING', `run '${runId}' is parked on '${wait.nodeId}', which is not a node of topology '${rec.topology}'`);
    // a wait node's payload fits its schema; any other node parks only on a guard's approval
    const request = c.plan.nodes[i]!.wait ?? { name: wait.name, schema: ApprovalSchema };
    parseSignal(request, payload);
    const e = { runId, seq: rec.lastSeq + 1, ts: durable.now(), type: 'run.signalled', nodeId: wait.nodeId, name, payload } as StoredEvent;
    await store.append([e]);
    const r = await new Promise<{ result?: Promise<RunResult>; error?: unknown }>((done) => this.#enqueue({ runId, done }));
    if (r.error !== undefined) throw r.error;
    return r.result === undefined ? { runId } : { runId, result: r.result };
  }

  /**
   * Cancels a stored run that is not in flight in this engine: a parked run (the cancellation is
   * recorded as the end of its wait, so whoever resumes it cancels it), a run whose process died
   * (its lease is free: claimed and ended here), or a run another live process holds (asked of it
   * through the store). Refuses a run that ended.
   */
  async cancel(runId: string, reason: string | undefined, again = true): Promise<CancelReceipt> {
    const durable = this.#host.durable;
    if (durable === undefined) throw new StoreError('RUN_NOT_FOUND', `no run '${runId}' is in flight in this engine (an engine without a store cancels only its own runs)`);
    const store = durable.store;
    const rec = await store.getRun(runId);
    if (rec === undefined) throw new StoreError('RUN_NOT_FOUND', `run '${runId}' is neither in flight in this engine nor in the store (${store.location})`);
    if (rec.status !== 'waiting' && rec.status !== 'running') throw new StoreError('RUN_NOT_CANCELLABLE', `run '${runId}' has ended (${rec.status})`);
    if (this.#host.versions().get(rec.topology)?.get(rec.version) === undefined) {
      throw new StoreError('TOPOLOGY_CHANGED', `run '${runId}' of topology '${rec.topology}' was recorded under version ${rec.version}, which this engine does not have; register that definition to cancel it`);
    }
    const now = durable.now();
    const stop = AbortSignal.abort(cancelledBy(reason));
    if (rec.status === 'running') {
      const live = rec.leaseOwner !== undefined && rec.leaseUntil !== undefined && rec.leaseUntil > now && !isDeadOwner(rec.leaseOwner);
      if (live) return this.#ask(rec, reason, now);
    } else {
      const e = { runId, seq: rec.lastSeq + 1, ts: now, type: 'run.signalled', nodeId: rec.wait?.nodeId, name: rec.wait?.name, cancel: reason === undefined ? {} : { reason } } as StoredEvent;
      await store.append([e]).catch((error: unknown) => {
        if (isStoreError(error) && error.code === 'SEQ_CONFLICT') throw new StoreError('RUN_NOT_CANCELLABLE', `run '${runId}' moved on while it was being cancelled (signalled or woken): look again`, { cause: error });
        throw error;
      });
    }
    const r = await new Promise<{ result?: Promise<RunResult>; error?: unknown; taken?: boolean }>((done) => this.#enqueue({ runId, done, cancel: { stop, was: rec.status as 'waiting' | 'running' } }));
    if (r.error !== undefined) throw r.error;
    // another process recovered the run first: it holds it now, so ask it (once)
    if (r.taken === true && again) return this.cancel(runId, reason, false);
    return r.result === undefined ? { runId } : { runId, result: r.result };
  }

  /** A run another live process holds: the request is stored, and that process cancels it at its next lease renewal. */
  async #ask(rec: RunRecord, reason: string | undefined, now: number): Promise<CancelReceipt> {
    const store = this.#host.durable!.store;
    if (store.requestCancel === undefined) {
      throw new StoreError('RUN_NOT_CANCELLABLE', `run '${rec.runId}' is running in ${rec.leaseOwner}, and this ${store.kind} store cannot pass a cancellation between processes: cancel it there`);
    }
    const asked = await store.requestCancel(reason === undefined ? { runId: rec.runId, at: now } : { runId: rec.runId, reason, at: now });
    if (!asked) throw new StoreError('RUN_NOT_CANCELLABLE', `run '${rec.runId}' stopped running while it was being cancelled (it ended or parked): look again`);
    return { runId: rec.runId, requestedOf: rec.leaseOwner! };
  }

  #enqueue(p: Pending): void {
    this.#queue.push(p);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  /** Claims every run signalled since the last flush at once, and relaunches each. */
  async #flush(): Promise<void> {
    const batch = this.#queue.splice(0, 1000);
    this.#scheduled = false;
    if (this.#queue.length > 0) {
      this.#scheduled = true;
      setImmediate(() => void this.#flush());
    }
    const durable = this.#host.durable!;
    const claimed = await durable.store.claim({
      owner: durable.owner, leaseMs: durable.leaseMs, limit: batch.length, now: durable.now(), runIds: batch.map((p) => p.runId), wakeable: true,
    }).then((r) => r, (error: unknown) => error);
    if (!Array.isArray(claimed)) {
      for (const p of batch) p.done({ error: claimed });
      return;
    }
    const byId = new Map<string, RunRecord>();
    for (const rec of claimed as RunRecord[]) byId.set(rec.runId, rec);
    for (const p of batch) {
      const rec = byId.get(p.runId);
      if (rec === undefined) {
        // taken first by another process: it resumes a signalled (or cancelled) parked run; a running one it just recovered
        p.done(p.cancel?.was === 'running' ? { taken: true } : {});
        continue;
      }
      let end!: (r: RunResult) => void;
      const result = new Promise<RunResult>((resolve) => { end = resolve; });
      const error = await this.#host.relaunch(rec, end, p.cancel?.stop);
      p.done(error === undefined ? { result } : { error });
    }
  }
}
