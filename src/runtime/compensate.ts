/**
 * Saga compensation: when a run fails, the completed nodes that declare
 * `compensate` are undone newest-first, one at a time, before the run's
 * terminal event is recorded.
 * @module
 */
import { serializeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { EV } from './events.ts';
import type { Run } from './run.ts';
import { DONE } from './states.ts';

/**
 * Records trace entry `code` for node `node` of `run`.
 *
 * @example
 * ```ts
 * const record: Recorder = (run, code, node) => core.record(run, code, node);
 * ```
 */
export type Recorder = (run: Run, code: number, node: number) => void;

/**
 * Completed nodes of a run that declare a compensation, newest completion first.
 *
 * @example
 * ```ts
 * const undo = compensations(run); // [charge, reserve]
 * ```
 */
export function compensations(run: Run): number[] {
  const nodes = run.plan.nodes;
  const out: number[] = [];
  for (let k = run.trace.length - 2; k >= 0; k -= 2) {
    const code = run.trace[k]!;
    const i = code >> 4;
    if ((code & 15) === EV.NODE_COMPLETED && nodes[i]!.compensate !== undefined && run.state[i] === DONE) out.push(i);
  }
  return out;
}

/**
 * Runs the compensation actions of `nodes` in order, one at a time; records
 * node.compensated or node.compensation_failed for each. Never rejects.
 *
 * @example
 * ```ts
 * await compensate(run, compensations(run), record, log);
 * ```
 */
export async function compensate(run: Run, nodes: readonly number[], record: Recorder, log: Logger): Promise<void> {
  const plan = run.plan;
  const error = serializeError(run.error);
  for (const i of nodes) {
    try {
      await plan.nodes[i]!.compensate!({ input: run.input, output: run.outputs[i], runId: run.id, nodeId: plan.ids[i]!, error });
      record(run, EV.NODE_COMPENSATED, i);
    } catch (e) {
      (run.notes ??= new Map()).set(run.trace.length >> 1, { type: 'compensation_failed', error: serializeError(e) });
      record(run, EV.NODE_COMPENSATION_FAILED, i);
      log.warn({ runId: run.id, nodeId: plan.ids[i], err: e }, 'compensation failed');
    }
  }
}
