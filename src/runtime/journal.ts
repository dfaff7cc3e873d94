/**
 * The journal of one durable run: every lifecycle event the run records is queued
 * here and appended to the run store in order. The engine flushes every journal that
 * has events once per tick, so the store commits all of that tick's runs in one batch
 * (and a quick node's `node.started` and `node.completed` in one append; a new run's
 * row goes with its first events). Waiters learn
 * when everything recorded so far is durable: a completed node's children and the
 * run's result wait for it.
 * @module
 */
import { StoreError, isStoreError } from '../errors.ts';
import type { RunEvent } from './events.ts';
import type { NewRun, RunStore, StoredEvent } from './store.ts';

/**
 * What a journal needs from its engine. `R` is the run a journal records (the journal only
 * hands it back: the engine's `Run`).
 *
 * @example
 * ```ts
 * const host: JournalHost<Run> = { store, retries: 3, retryDelayMs: 20, created: () => {}, broken: (run, e) => fail(run, e), dirty: (j) => ticks.push(j) };
 * ```
 */
export interface JournalHost<R> {
  readonly store: RunStore;
  /** Tries of a write that failed with a retriable StoreError, after the first. */
  readonly retries: number;
  /** Delay before the first retry (doubled each time). */
  readonly retryDelayMs: number;
  /** The run's row was created: its lease is held from now on. */
  created(run: R): void;
  /** The run's events cannot be stored: the run must not go on unrecorded. */
  broken(run: R, error: StoreError): void;
  /**
   * The journal has something to write and no write in flight: call its `flush()` soon,
   * together with every other journal that became dirty meanwhile (one store batch per tick).
   */
  dirty(journal: Journal<R>): void;
}

const OPEN = 0;
const BROKEN = 1;
const DETACHED = 2;

/**
 * The journal of one durable run. Its events wait until its host flushes it (once per
 * tick, with the other runs' journals), then go to the store in one `append`; at most
 * one write per run is in flight, so a failed write is retried before anything after it.
 *
 * @example
 * ```ts
 * run.journal = new Journal(host, run, newRun);
 * run.journal.add(event);
 * run.journal.whenDurable(() => deliver(run));
 * ```
 */
export class Journal<R> {
  readonly #host: JournalHost<R>;
  readonly #run: R;
  #create: NewRun | undefined;
  #pending: StoredEvent[] = [];
  /** A write is in flight (its end flushes again or marks the journal dirty). */
  #writing = false;
  /** The host was told (dirty) and will call flush. */
  #queued = false;
  #added = 0;
  #acked = 0;
  /** Callbacks waiting for the first `target` events to be durable, in target order. */
  #waiters: { target: number; cb: () => void }[] = [];
  #state = OPEN;

  /** `create`: the run's row, created before its first event; undefined for a run the store already has. */
  constructor(host: JournalHost<R>, run: R, create: NewRun | undefined) {
    this.#host = host;
    this.#run = run;
    this.#create = create;
  }

  /** Whether the run's row exists in the store (its lease is held). */
  get created(): boolean {
    return this.#create === undefined;
  }

  /** Whether the journal still records (not broken, not detached). */
  get open(): boolean {
    return this.#state === OPEN;
  }

  /** Queues an event for the store. Ignored once the journal is broken or detached. */
  add(e: RunEvent): void {
    if (this.#state !== OPEN) return;
    this.#pending.push(e as unknown as StoredEvent);
    this.#added++;
    this.#mark();
  }

  /** Calls `cb` once every event added so far is durable (at once when it is; also when the journal breaks or is detached). */
  whenDurable(cb: () => void): void {
    if (this.#state !== OPEN || this.#acked >= this.#added) cb();
    else this.#waiters.push({ target: this.#added, cb });
  }

  /** Stops recording (the run's lease was lost, or the engine shuts down and leaves the run to be recovered). */
  detach(): void {
    if (this.#state !== OPEN) return;
    this.#state = DETACHED;
    this.#pending = [];
    this.#release(Infinity);
  }

  /** Writes what is queued (the host calls this once per tick for every dirty journal). */
  flush(): void {
    this.#queued = false;
    if (this.#writing || this.#state !== OPEN || (this.#create === undefined && this.#pending.length === 0)) return;
    this.#writing = true;
    void this.#write();
  }

  /** Tells the host there is something to write, unless it knows or a write is in flight. */
  #mark(): void {
    if (this.#writing || this.#queued) return;
    this.#queued = true;
    this.#host.dirty(this);
  }

  /**
   * One write: a new run's row with everything queued so far (one commit, both or neither),
   * else everything queued; marks the journal dirty again when more came meanwhile.
   */
  async #write(): Promise<void> {
    const create = this.#create;
    if (create !== undefined) {
      const first = this.#pending;
      this.#pending = [];
      const err = await this.#attempt(first.length === 0 ? create : { ...create, events: first }, undefined);
      if (err !== undefined) return this.#break(err);
      this.#create = undefined;
      if (this.#state !== OPEN) {
        this.#writing = false;
        return;
      }
      this.#host.created(this.#run);
      this.#acked += first.length;
      this.#release(this.#acked);
      // what its release queued (the next node's start) waits for the next flush, with what follows it
      this.#writing = false;
      if (this.#state === OPEN && this.#pending.length > 0) this.#mark();
      return;
    }
    if (this.#state === OPEN && this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      const err = await this.#attempt(undefined, batch);
      if (this.#state !== OPEN) {
        this.#writing = false;
        return;
      }
      if (err !== undefined) return this.#break(err);
      this.#acked += batch.length;
      this.#release(this.#acked);
    }
    this.#writing = false;
    if (this.#state === OPEN && this.#pending.length > 0) this.#mark();
  }

  /** `createRun(create)` or `append(batch)` with its retries; resolves with the error that ended it, if any. */
  async #attempt(create: NewRun | undefined, batch: readonly StoredEvent[] | undefined): Promise<StoreError | undefined> {
    const store = this.#host.store;
    for (let attempt = 0; ; attempt++) {
      let err: unknown;
      try {
        if (create !== undefined) await store.createRun(create);
        else await store.append(batch!);
        return undefined;
      } catch (e) {
        err = e;
      }
      const se = isStoreError(err) ? err : new StoreError('STORE_FAILED', `the run store (${store.location}) failed: ${String(err)}`, { cause: err });
      if (!se.retriable || attempt >= this.#host.retries || this.#state !== OPEN) return se;
      await new Promise((r) => setTimeout(r, this.#host.retryDelayMs * 2 ** attempt));
    }
  }

  #break(error: StoreError): void {
    this.#writing = false;
    if (this.#state !== OPEN) return;
    this.#state = BROKEN;
    this.#pending = [];
    this.#host.broken(this.#run, error);
    this.#release(Infinity);
  }

  #release(upto: number): void {
    const w = this.#waiters;
    let k = 0;
    while (k < w.length && w[k]!.target <= upto) k++;
    if (k === 0) return;
    const ready = k === w.length ? w : w.slice(0, k);
    this.#waiters = k === w.length ? [] : w.slice(k);
    for (const x of ready) x.cb();
  }
}
