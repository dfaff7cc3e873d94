/**
 * The options of a run's life beyond one call: how an engine with a store holds its runs
 * (leases, owner, sweeping), what `engine.recover()` claims, how `engine.cancel()` cancels a run
 * and how `engine.shutdown()` treats runs in flight, each as a public interface and the zod schema that checks it.
 * @module
 */
import * as z from 'zod';
import { positiveInt } from './parse-options.ts';


/**
 * Schema of {@link DurableOptions}.
 *
 * @example
 * ```ts
 * DurableOptionsSchema.parse({ leaseMs: 15_000 });
 * ```
 */
export const DurableOptionsSchema = z.strictObject({
  leaseMs: z.number().int().min(10).optional(),
  owner: z.string().min(1).optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a function returning epoch ms').optional(),
  sweepMs: z.number().int().positive().optional(),
});

/**
 * How an engine with a store holds its runs.
 *
 * @example
 * ```ts
 * const engine = createEngine({ store, durable: { leaseMs: 30_000 } });
 * ```
 */
export interface DurableOptions {
  /** How long a run's lease lasts without renewal (renewed every third of it). Default 15 s. */
  readonly leaseMs?: number;
  /** This process's owner id in the store. Default `host:pid:random`, which lets a restarted process on the same host claim a dead one's runs at once. */
  readonly owner?: string;
  /** The clock leases are judged by (epoch ms). Default `Date.now`; tests inject their own. */
  readonly now?: () => number;
  /**
   * Every this many ms, wake parked runs whose wait timed out (and signalled runs nobody
   * resumed): `recover({ wake: true })` on one timer per engine (it also recovers runs of dead
   * processes). Default: no sweeping; call `engine.recover({ wake: true })` yourself.
   */
  readonly sweepMs?: number;
}

/**
 * Schema of {@link RecoverOptions}.
 *
 * @example
 * ```ts
 * parseOptions(RecoverOptionsSchema, { limit: 100 }, 'recover options');
 * ```
 */
export const RecoverOptionsSchema = z.strictObject({
  limit: positiveInt.optional(),
  runIds: z.array(z.string().min(1)).min(1).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  wake: z.boolean().optional(),
});

/**
 * What `engine.recover()` claims.
 *
 * @example
 * ```ts
 * await engine.recover({ limit: 500 });
 * await engine.recover({ runIds: ['order-1'] }); // just this run, if it is left unfinished
 * ```
 */
export interface RecoverOptions {
  /** Claim at most this many runs. Default 1000. */
  readonly limit?: number;
  /**
   * Only these runs (e.g. the run a redelivered Kafka request names): each is claimed when it is
   * running with no live lease, as `recover()` claims any run. Default: any unfinished run.
   */
  readonly runIds?: readonly string[];
  /** Aborting it cancels the runs it resumed, as a run's own signal does (the cancellation is recorded). */
  readonly signal?: AbortSignal;
  /**
   * Also wake parked runs: those whose wait timed out (the wait node fails with WAIT_TIMEOUT or
   * takes its `onError` edge) and those signalled but not resumed (their signaller died). Default false.
   */
  readonly wake?: boolean;
}

/**
 * Schema of {@link CancelOptions}.
 *
 * @example
 * ```ts
 * parseOptions(CancelOptionsSchema, { reason: 'the customer withdrew' }, 'cancel options');
 * ```
 */
export const CancelOptionsSchema = z.strictObject({
  reason: z.string().max(1000).optional(),
});

/**
 * How `engine.cancel()` cancels a run.
 *
 * @example
 * ```ts
 * await engine.cancel('order-1', { reason: 'the customer withdrew' });
 * ```
 */
export interface CancelOptions {
  /** Why, recorded in the run's `CancelledError` message (at most 1,000 characters). */
  readonly reason?: string;
}

/**
 * Schema of {@link ShutdownOptions}.
 *
 * @example
 * ```ts
 * parseOptions(ShutdownOptionsSchema, { mode: 'cancel' }, 'shutdown options');
 * ```
 */
export const ShutdownOptionsSchema = z.strictObject({
  mode: z.enum(['drain', 'cancel']).optional(),
  timeoutMs: z.number().nonnegative().optional(),
});

/**
 * How `engine.shutdown()` treats runs in flight.
 *
 * @example
 * ```ts
 * await engine.shutdown({ mode: 'drain', timeoutMs: 10_000 });
 * ```
 */
export interface ShutdownOptions {
  /** `drain` (default): let runs in flight finish; `cancel`: cancel them now. New runs are refused either way. */
  readonly mode?: 'drain' | 'cancel';
  /** Drain at most this long, then cancel what is left. Default 30 s. */
  readonly timeoutMs?: number;
}
