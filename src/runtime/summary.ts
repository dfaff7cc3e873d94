/**
 * The summary of an ended run a feedback loop hears (`RunLoop.ended`): made once per
 * run, only for an engine with a loop.
 * @module
 */
import { serializeError } from '../errors.ts';
import type { RunSummary } from './loop.ts';
import type { Run } from './run.ts';
import { DONE, R_CANCELLED, R_COMPLETED } from './states.ts';
import { topologyVersion } from './version.ts';

/**
 * The llm nodes of a run that completed, by node id: the model that answered (the last
 * fallback's target, else the run's override, else the node's first model).
 *
 * @example
 * ```ts
 * modelsOf(run); // { answer: 'sim:default' }
 * ```
 */
export function modelsOf(run: Run): Record<string, string> {
  const out: Record<string, string> = {};
  const plan = run.plan;
  for (let i = 0; i < plan.nodes.length; i++) {
    const node = plan.nodes[i]!;
    if (node.kind !== 'llm' || run.state[i] !== DONE) continue;
    const o = run.overrides?.[plan.ids[i]!]?.model;
    const first = o === undefined ? node.models?.[0] : typeof o === 'string' ? o : o[0];
    if (first !== undefined) out[plan.ids[i]!] = first;
  }
  // fallbacks, in trace order: the last one of a node is the model that answered
  run.notes?.forEach((note, idx) => {
    if (note.type !== 'fallback') return;
    const i = run.trace[idx * 2]! >> 4;
    if (run.state[i] === DONE) out[plan.ids[i]!] = note.to;
  });
  return out;
}

/**
 * Summarizes an ended top-level run.
 *
 * @example
 * ```ts
 * loop.ended(summaryOf(run));
 * ```
 */
export function summaryOf(run: Run): RunSummary {
  const s: { -readonly [K in keyof RunSummary]: RunSummary[K] } = {
    runId: run.id,
    topology: run.plan.name,
    version: topologyVersion(run.plan.topology),
    status: run.status === R_COMPLETED ? 'completed' : run.status === R_CANCELLED ? 'cancelled' : 'failed',
    input: run.input,
    output: run.output,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    decision: run.decision,
    models: modelsOf(run),
    tenant: run.tenant,
    user: run.user,
  };
  if (run.error !== undefined) s.error = serializeError(run.error);
  if (run.usage !== undefined) s.usage = { ...run.usage };
  let outputs: Record<string, unknown> | undefined;
  Object.defineProperty(s, 'outputs', {
    enumerable: true,
    get: () => {
      if (outputs === undefined) {
        outputs = {};
        const ids = run.plan.ids;
        for (let i = 0; i < ids.length; i++) if (run.state[i] === DONE) outputs[ids[i]!] = run.outputs[i];
      }
      return outputs;
    },
  });
  return s;
}
