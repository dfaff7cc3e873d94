/**
 * Task resources: the named pools and the global task slot a node's work holds.
 * One {@link Acquire} takes a task's resources one by one, always in the same
 * order (pools by name, then the global slot), so tasks never deadlock.
 * @module
 */
import { Limiter, type Level } from '../primitives/limiter.ts';
import type { FlowWeight } from '../primitives/fair-queue.ts';
import { R_RUNNING } from './states.ts';

/**
 * What an acquisition needs from its run: whether it still runs, and its priority.
 *
 * @example
 * ```ts
 * const holder: Holder = run; // a Run is one
 * ```
 */
export interface Holder {
  readonly status: number;
  readonly level: Level;
  /** Its tenant: waiters for a pool are served fairly between tenants. */
  readonly tenant?: string | undefined;
}

/**
 * One pending acquisition of a task's resources, granted by the resources' limiters.
 * Stops taking (and gives back what it holds) once its run has ended.
 *
 * @example
 * ```ts
 * new Acquire([pool, global], run, (a) => (run.status === R_RUNNING ? work(a) : a.releaseHeld())).proceed();
 * ```
 */
export class Acquire {
  /** How many of `resources` are held. */
  k = 0;
  constructor(
    readonly resources: readonly Limiter<Acquire>[],
    readonly run: Holder,
    readonly onReady: (a: Acquire) => void,
  ) {}

  /** Takes the next resources; calls `onReady` once all are held (or the run ended, holding none). */
  proceed(): void {
    const res = this.resources;
    while (this.k < res.length) {
      if (this.run.status !== R_RUNNING) {
        this.releaseHeld();
        this.onReady(this);
        return;
      }
      const r = res[this.k++]!;
      if (r.submit(this, this.run.level, this.run.tenant) !== 'granted') return;
    }
    this.onReady(this);
  }

  /** Releases what is held, in reverse order. */
  releaseHeld(): void {
    while (this.k > 0) this.resources[--this.k]!.release();
  }
}

const grantAcquire = (a: Acquire): void => a.proceed();

/**
 * Creates a pool or global-slot limiter whose waiters are {@link Acquire}s.
 *
 * @example
 * ```ts
 * const openai = resourceLimiter(8, 16);
 * ```
 */
export function resourceLimiter(size: number, agingGrants: number, weight?: FlowWeight): Limiter<Acquire> {
  return new Limiter<Acquire>(size, grantAcquire, weight === undefined ? { agingGrants } : { agingGrants, weight });
}

/**
 * Acquires `resources` for a task of `run`; resolves with the held acquisition
 * (release it when the task settles), or undefined when there is nothing to hold.
 * When the run ends while waiting, resolves holding nothing.
 *
 * @example
 * ```ts
 * const acq = await acquire(plan.itemResources[i], run);
 * try { await item(); } finally { acq?.releaseHeld(); }
 * ```
 */
export function acquire(resources: readonly Limiter<Acquire>[], run: Holder): Promise<Acquire | undefined> {
  if (resources.length === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => new Acquire(resources, run, resolve).proceed());
}
