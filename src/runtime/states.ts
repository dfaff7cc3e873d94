/**
 * The numeric states a run and its nodes move through, and the priority levels.
 * Plain numbers, so a run's bookkeeping is a few small integer arrays.
 * @module
 */
import type { Priority } from '../definition/types.ts';
import type { Level } from '../primitives/limiter.ts';

/**
 * Node state (`Run.state[i]`): not started yet.
 *
 * @example
 * ```ts
 * if (run.state[i] === DONE) use(run.outputs[i]);
 * ```
 */
export const WAITING = 0;
/**
 * The node's function was called and has not settled.
 *
 * @example
 * ```ts
 * if (run.state[i] === RUNNING) core.record(run, EV.NODE_CANCELLED, i);
 * ```
 */
export const RUNNING = 1;
/**
 * The node produced its output.
 *
 * @example
 * ```ts
 * const output = run.state[i] === DONE ? run.outputs[i] : undefined;
 * ```
 */
export const DONE = 2;
/**
 * The node will not run in this run (route not taken, or every parent skipped).
 *
 * @example
 * ```ts
 * const skipped = plan.ids.filter((_, i) => run.state[i] === SKIPPED);
 * ```
 */
export const SKIPPED = 3;
/**
 * The node failed; its error is `run.errors[i]`.
 *
 * @example
 * ```ts
 * if (run.state[i] === FAILED) console.error(run.errors?.[i]);
 * ```
 */
export const FAILED = 4;
/**
 * Set by `resume` on nodes whose state comes from a previous attempt, until applied.
 *
 * @example
 * ```ts
 * if (run.state[i] === RESUMING) continue;
 * ```
 */
export const RESUMING = 5;

/**
 * Marks on `Run.mark[i]`: some parent edge was taken ({@link ACTIVE_PARENT}) or not taken ({@link INACTIVE_PARENT}).
 *
 * @example
 * ```ts
 * const go = isJoin ? (run.mark[c] & ACTIVE_PARENT) !== 0 : (run.mark[c] & INACTIVE_PARENT) === 0;
 * ```
 */
export const ACTIVE_PARENT = 1;
/**
 * Some parent edge of the node was not taken (see {@link ACTIVE_PARENT}).
 *
 * @example
 * ```ts
 * run.mark[c] |= active ? ACTIVE_PARENT : INACTIVE_PARENT;
 * ```
 */
export const INACTIVE_PARENT = 2;
/**
 * The node already moved its run on (a timeout handled by `onError`) while its function
 * still runs: its stage output, when the function returns, is ignored.
 *
 * @example
 * ```ts
 * if ((run.mark[i] & SETTLED_EARLY) !== 0) return;
 * ```
 */
export const SETTLED_EARLY = 4;

/**
 * Run status (`Run.status`): still running.
 *
 * @example
 * ```ts
 * if (run.status !== R_RUNNING) return; // the run ended meanwhile
 * ```
 */
export const R_RUNNING = 0;
/**
 * Every node completed or was skipped.
 *
 * @example
 * ```ts
 * if (run.remaining === 0) core.finish(run, R_COMPLETED);
 * ```
 */
export const R_COMPLETED = 1;
/**
 * A node failed, the input was invalid, or the deadline passed.
 *
 * @example
 * ```ts
 * core.finish(run, R_FAILED, new NodeError('a', cause));
 * ```
 */
export const R_FAILED = 2;
/**
 * Cancelled by its signal, its stream or shutdown.
 *
 * @example
 * ```ts
 * core.finish(run, R_CANCELLED, new CancelledError('engine shut down'));
 * ```
 */
export const R_CANCELLED = 3;
/**
 * Parked on a `wait` node (durable runs): its log is stored, it left the process.
 *
 * @example
 * ```ts
 * if (run.status === R_WAITING) console.log(run.parked?.name);
 * ```
 */
export const R_WAITING = 4;

/**
 * Priority name to limiter level.
 *
 * @example
 * ```ts
 * LEVELS.high; // 0
 * ```
 */
export const LEVELS: Readonly<Record<Priority, Level>> = { high: 0, normal: 1, low: 2 };
/**
 * Limiter level to priority name.
 *
 * @example
 * ```ts
 * PRIORITIES[run.level]; // 'normal'
 * ```
 */
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];
