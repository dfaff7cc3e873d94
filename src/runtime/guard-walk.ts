/**
 * Asking a list of guards one after another, fail-closed: a guard that throws, rejects or
 * answers nonsense refuses with a PolicyError `POLICY_FAILED`, and the walk stays synchronous
 * while every guard answers at once.
 * @module
 */
import { PolicyError } from '../errors.ts';
import type { Guard } from '../definition/guard.ts';

/**
 * The plain allow verdict (no rule, nothing changed, nothing watched).
 *
 * @example
 * ```ts
 * return rule === undefined ? ALLOW : { action: 'allow', rule };
 * ```
 */
export const ALLOW = { action: 'allow' } as const;

/**
 * What one guard of the list answered, or the error it threw (as a `POLICY_FAILED` refusal).
 *
 * @example
 * ```ts
 * const v = ask(g, g.run!, check); // a RunVerdict, a promise of one, or a PolicyError
 * ```
 */
export function ask<C, V>(g: Guard, fn: (check: C) => V | Promise<V>, check: C): V | Promise<V> | PolicyError {
  try {
    return fn.call(g, check);
  } catch (e) {
    return failed(g, e);
  }
}

function failed(g: Guard, e: unknown): PolicyError {
  const name = g.name ?? 'guard';
  return new PolicyError('POLICY_FAILED', `${name} failed while checking (refused: fail-closed): ${e instanceof Error ? e.message : String(e)}`, { rule: name, cause: e });
}

/**
 * The refusal of a guard that answered a verdict of no known shape.
 *
 * @example
 * ```ts
 * if (v?.action !== 'allow') return refuse(invalid(g, 'tool'));
 * ```
 */
export function invalid(g: Guard, what: string): PolicyError {
  const name = g.name ?? 'guard';
  return new PolicyError('POLICY_FAILED', `${name} answered an invalid ${what} verdict (refused: fail-closed)`, { rule: name });
}

/**
 * Whether a guard's answer is a promise (a thenable) rather than a verdict given at once.
 *
 * @example
 * ```ts
 * if (isPromise(v)) return v.then(judge);
 * ```
 */
export const isPromise = <T>(v: unknown): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** No answer given ahead (see {@link walk}). */
const NOT_ASKED: unique symbol = Symbol('not asked');

/**
 * Asks `guards` from index `k` on, in order: `askOf` asks one, `take` judges its answer (a
 * verdict it returns stops the walk: a refusal), `done` answers once every guard allowed.
 * Synchronous while every guard answers at once. `first` is guard `k`'s answer when the caller
 * has asked it already.
 *
 * @example
 * ```ts
 * const v = walk(toolGuards, 0, (g) => ask(g, g.tool!, check), take, () => ALLOW);
 * ```
 */
export function walk<V>(
  guards: readonly Guard[], k: number, askOf: (g: Guard) => V | Promise<V> | PolicyError,
  take: (g: Guard, v: V | PolicyError) => V | undefined, done: () => V, first: V | Promise<V> | PolicyError | typeof NOT_ASKED = NOT_ASKED,
): V | Promise<V> {
  for (; k < guards.length; k++) {
    const g = guards[k]!;
    const v = first === NOT_ASKED ? askOf(g) : first;
    first = NOT_ASKED;
    if (isPromise<V>(v)) {
      const next = k + 1;
      return v.then((r) => take(g, r) ?? walk(guards, next, askOf, take, done), (e: unknown) => take(g, failed(g, e))!);
    }
    const stop = take(g, v);
    if (stop !== undefined) return stop;
  }
  return done();
}
