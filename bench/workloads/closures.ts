/**
 * The node closures every system runs. Systems differ only in how they
 * orchestrate these; the work itself is identical.
 * @module
 */
import type { JoinFn, NodeFn } from '../systems/types.ts';
import { sleep, type Gate } from '../lib/measure.ts';

/** Trivial async node. */
export const inc: NodeFn = async (x) => x + 1;

/** A chain of `n` trivial async nodes: output = input + n. */
export const trivialChain = (n: number): NodeFn[] => Array.from({ length: n }, () => inc);

/** W2: the source passes its input on. */
export const fanSource: NodeFn = async (x) => x;
/** W2: branch k adds k. */
export const fanBranches = (n: number): NodeFn[] => Array.from({ length: n }, (_, k) => async (s: number) => s + k);
/** W2: the join sums its inputs. */
export const fanJoin: JoinFn = async (values) => {
  let sum = 0;
  for (const v of values) sum += v;
  return sum;
};
/** Expected W2 output for input x with n branches. */
export const fanExpected = (x: number, n: number): number => n * x + (n * (n - 1)) / 2;

/** Awaits a 1 ms timer, then adds one. */
export const sleepInc: NodeFn = async (x) => {
  await sleep(1);
  return x + 1;
};

/** Counts arrivals, then waits for `gate` before adding one (parks the run). */
export function gated(gate: () => Gate, arrived: { n: number }): NodeFn {
  return async (x) => {
    arrived.n++;
    await gate().promise;
    return x + 1;
  };
}
