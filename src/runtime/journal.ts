/**
 * The journal of one durable run: every lifecycle event the run records is queued
 * here and appended to the run store in order, in small batches (the store itself
 * commits many runs' batches together). Waiters learn when everything recorded so
 * far is durable: a completed node's children and the run's result wait for it.
 * @module
 */
import { StoreError, isStoreError } from '../errors.ts';
import type { RunEvent } from './events.ts';
import type { Run } from './run.ts';
import type { NewRun, RunStore, StoredEvent } from './store.ts';

/**
 * What a journal needs from its engine.
 *
 * @example
 * ```ts
 * const host: JournalHost = { store, retries: 3, retryDelayMs: 20, created: () => {}, broken: (run, e) => fail(run, e) };
 * ```
 */
export interface JournalHost {
  readonly store: RunStore;
  /** Tries of a write that failed with a retriable StoreError, after the first. */
  readonly retries: number;
  /** Delay before the first retry (doubled each time). */
  readonly retryDelayMs: number;
  /** The run's row was created: its lease is held from now on. */
  created(run: Run): void;
  /** The run's events cannot be stored: the run must not go on unrecorded. */
  broken(run: Run, error: StoreError): void;
}

const OPEN = 0;
const BROKEN = 1;
const DETACHED = 2;

/**
 * The journal of one durable run.
 *
 * @example
 * ```ts
 * run.journal = new Journal(host, run, newRun);
 * run.journal.add(event);
 * run.journal.whenDurable(() => deliver(run));
 * ```
 */
export class Journal {
  readonly #host: JournalHost;
  readonly #run: Run;
  #create: NewRun | undefined;
  #pending: StoredEvent[] = [];
  #writing = false;
  #added = 0;
  #acked = 0;
  /** Callbacks waiting for the first `target` events to be durable, in target order. */
  #waiters: { target: number; cb: () => void }[] = [];
  #state = OPEN;

  /** `create`: the run's row, created before its first event; undefined for a run the store already has. */
  constructor(host: JournalHost, run: Run, create: NewRun | undefined) {
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
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => void this.#flush());
    }
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

  async #flush(): Promise<void> {
    const host = this.#host;
    while (this.#state === OPEN && (this.#pending.length > 0 || this.#create !== undefined)) {
      const create = this.#create;
      if (create !== undefined) {
        const err = await this.#write(() => host.store.createRun(create));
        if (err !== undefined) return this.#break(err);
        this.#create = undefined;
        if (this.#state === OPEN) host.created(this.#run);
        continue;
      }
      const batch = this.#pending;
      this.#pending = [];
      const err = await this.#write(() => host.store.append(batch));
      if (this.#state !== OPEN) break;
      if (err !== undefined) return this.#break(err);
      this.#acked += batch.length;
      this.#release(this.#acked);
    }
    this.#writing = false;
  }

  /** One write with its retries; resolves with the error that ended it, if any. */
  async #write(op: () => Promise<void>): Promise<StoreError | undefined> {
    const host = this.#host;
    for (let attempt = 0; ; attempt++) {
      const err = await op().then(() => undefined, (e: unknown) => e);
      if (err === undefined) return undefined;
      const se = isStoreError(err) ? err : new StoreError('STORE_FAILED', `the run store (${host.store.location}) failed: ${String(err)}`, { cause: err });
      if (!se.retriable || attempt >= host.retries || this.#state !== OPEN) return se;
      await new Promise((r) => setTimeout(r, host.retryDelayMs * 2 ** attempt));
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
    const ready = w.splice(0, k);
    for (const x of ready) x.cb();
  }
}
