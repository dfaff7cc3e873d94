/**
 * The durable side of an engine with a run store: journals for its runs, the
 * lease of every durable run in flight (renewed on a timer, released on
 * shutdown), and how a run that lost its lease or cannot be stored ends.
 * @module
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { StoreError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { cancelledBy } from './cancelled.ts';
import type { Core } from './core.ts';
import { Journal, type JournalHost } from './journal.ts';
import type { Run } from './run.ts';
import { R_FAILED, R_RUNNING, R_CANCELLED } from './states.ts';
import type { NewRun, RunStore } from './store.ts';

/**
 * A fresh owner id for this process: `host:pid:random`.
 *
 * @example
 * ```ts
 * const owner = processOwner(); // 'web-1:4242:9f2c1ab0'
 * ```
 */
export function processOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Whether an owner id names a process of this host that no longer exists (its runs
 * may be claimed before their lease expires). Owners of other hosts, of this
 * process, or in another format are not known dead.
 *
 * @example
 * ```ts
 * await store.claim({ owner, leaseMs, limit: 100, now: Date.now(), isDead: isDeadOwner });
 * ```
 */
export function isDeadOwner(owner: string): boolean {
  const parts = owner.split(':');
  if (parts.length < 3 || parts[0] !== hostname()) return false;
  const pid = Number(parts[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Settings of an engine's durable side.
 *
 * @example
 * ```ts
 * const cfg: DurableConfig = { store, owner: processOwner(), leaseMs: 15_000, now: Date.now };
 * ```
 */
export interface DurableConfig {
  readonly store: RunStore;
  readonly owner: string;
  readonly leaseMs: number;
  readonly now: () => number;
}

/**
 * An engine's durable side.
 *
 * @example
 * ```ts
 * const durable = new Durable(cfg, core, log);
 * durable.attach(run, newRun, 0);
 * ```
 */
export class Durable implements JournalHost<Run> {
  readonly store: RunStore;
  readonly owner: string;
  readonly leaseMs: number;
  readonly now: () => number;
  readonly retries = 3;
  readonly retryDelayMs = 20;
  /** Durable runs in flight whose row exists (their lease is ours), by id. */
  readonly held = new Map<string, Run>();
  readonly #core: Core;
  readonly #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined = undefined;
  /** Journals to flush at the next tick. */
  #dirty: Journal<Run>[] = [];
  #tick = false;
  #renewing = false;
  #closed: Promise<void> | undefined = undefined;

  constructor(cfg: DurableConfig, core: Core, log: Logger) {
    this.store = cfg.store;
    this.owner = cfg.owner;
    this.leaseMs = cfg.leaseMs;
    this.now = cfg.now;
    this.#core = core;
    this.#log = log;
  }

  /** Makes `run` durable: `create` its row first (new runs), or continue its stored log after `seqBase - 1` (recovered runs). */
  attach(run: Run, create: NewRun | undefined, seqBase: number): void {
    run.seqBase = seqBase;
    run.journal = new Journal(this, run, create);
    if (create === undefined) this.created(run);
  }

  /** The run ended and was delivered: its lease is no longer ours to renew (the store cleared it). */
  ended(run: Run): void {
    this.held.delete(run.id);
  }

  created(run: Run): void {
    if (run.status !== R_RUNNING) return;
    this.held.set(run.id, run);
    this.#timer ??= this.#startTimer();
  }

  broken(run: Run, error: StoreError): void {
    this.#log.error({ runId: run.id, code: error.code, err: error }, 'a durable run cannot be recorded: it fails');
    this.held.delete(run.id);
    if (run.status === R_RUNNING) this.#core.finish(run, R_FAILED, error);
    else {
      // it ended, but its end is not stored: its caller must not see it as done
      run.status = R_FAILED;
      run.error = error;
    }
  }

  dirty(journal: Journal<Run>): void {
    this.#dirty.push(journal);
    if (this.#tick) return;
    this.#tick = true;
    setImmediate(this.#flush);
  }

  /** Once per tick: every dirty journal appends, so the store commits them in one batch. */
  readonly #flush = (): void => {
    this.#tick = false;
    const journals = this.#dirty;
    this.#dirty = [];
    for (const j of journals) j.flush();
  };

  #startTimer(): ReturnType<typeof setInterval> {
    const t = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    t.unref?.();
    return t;
  }

  /** Renews the leases of the runs in flight; a run whose lease another process took is cancelled here (LEASE_LOST). */
  async renew(): Promise<void> {
    if (this.#renewing || this.held.size === 0) return;
    this.#renewing = true;
    const ids = [...this.held.keys()];
    const kept = await this.store.renew(this.owner, ids, this.leaseMs, this.now()).then(
      (r) => new Set(r),
      (e: unknown) => {
        // a store that cannot renew now may be back before the lease ends: try again next tick
        this.#log.warn({ err: e, runs: ids.length }, 'renewing run leases failed');
        return undefined;
      },
    );
    if (kept !== undefined) {
      for (const id of ids) {
        const run = this.held.get(id);
        if (run === undefined || kept.has(id)) continue;
        this.lose(run);
      }
      await this.#cancelAsked([...kept]);
    }
    this.#renewing = false;
  }

  /** Runs another process asked to cancel (engine.cancel there): cancelled here, where they run; the cancellation is recorded. */
  async #cancelAsked(ids: readonly string[]): Promise<void> {
    if (this.store.cancelRequests === undefined || ids.length === 0) return;
    const asked = await this.store.cancelRequests(ids).catch((e: unknown) => {
      this.#log.warn({ err: e, runs: ids.length }, 'reading cancel requests failed; read again at the next renewal');
      return [];
    });
    for (const a of asked) {
      const run = this.held.get(a.runId);
      if (run === undefined || run.status !== R_RUNNING) continue;
      this.#log.info({ runId: a.runId, reason: a.reason }, 'run cancelled on request of another process');
      this.#core.finish(run, R_CANCELLED, cancelledBy(a.reason));
    }
  }

  /** The run's lease is gone: stop recording it and cancel it here; its new owner goes on. */
  lose(run: Run): void {
    this.held.delete(run.id);
    run.journal?.detach();
    this.#core.finish(run, R_CANCELLED, new StoreError('LEASE_LOST', `run '${run.id}' was taken over by another process (its lease in ${this.store.location} was lost)`));
  }

  /**
   * Shutdown: runs still in flight are left to be recovered (no longer recorded, leases
   * released); stops the renewal timer.
   */
  close(): Promise<void> {
    return (this.#closed ??= this.#close());
  }

  async #close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const left = [...this.held.values()];
    this.held.clear();
    for (const run of left) run.journal?.detach();
    if (left.length > 0) {
      await this.store.release(this.owner, left.map((r) => r.id)).catch((e: unknown) => {
        this.#log.warn({ err: e, runs: left.length }, 'releasing run leases failed; they expire on their own');
      });
    }
  }
}
