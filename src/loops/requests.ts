/**
 * Evaluation requests of an ended run: one for the run, and one per marked llm node with
 * that node's output.
 * @module
 */
import type { RunSummary } from '../runtime/loop.ts';
import type { EvaluationRequestMessage } from '../transports/messages.ts';

/**
 * JSON text of a value; `null` for undefined, and a JSON string of the reason for a value
 * JSON cannot carry (a cycle, a bigint), so an evaluation request always goes out.
 *
 * @example
 * ```ts
 * jsonText({ q: 'hi' }); // '{"q":"hi"}'
 * ```
 */
export function jsonText(value: unknown): string {
  if (value === undefined) return 'null';
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (e) {
    return JSON.stringify(`[not JSON: ${e instanceof Error ? e.message : String(e)}]`);
  }
}

/**
 * The evaluation requests of a sampled run: the run's, then one per node of `nodes` that
 * completed (`evaluationId` `<runId>:<nodeId>`, the node's output, its model only). Tokens
 * and cost are the run's in every request (a node's share is not kept apart).
 *
 * @example
 * ```ts
 * for (const req of evaluationRequests(summary, ['answer'], 'v3', Date.now())) evaluations$.next(req);
 * ```
 */
export function evaluationRequests(
  s: RunSummary,
  nodes: readonly string[] | undefined,
  promptVersion: string | null,
  ts: number,
): EvaluationRequestMessage[] {
  const d = s.decision;
  const base = {
    runId: s.runId,
    topology: s.topology,
    version: s.version,
    variant: d?.variant ?? null,
    policyVersion: d?.policyVersion ?? null,
    promptVersion,
    arms: d?.arms ?? {},
    input: jsonText(s.input),
    status: s.status,
    latencyMs: Math.max(0, s.endedAt - s.startedAt),
    inputTokens: s.usage?.inputTokens ?? 0,
    outputTokens: s.usage?.outputTokens ?? 0,
    costUsd: s.usage?.costUsd ?? 0,
    tenant: s.tenant ?? null,
    user: s.user ?? null,
    ts,
  };
  const out: EvaluationRequestMessage[] = [{ ...base, evaluationId: s.runId, nodeId: null, models: s.models, output: jsonText(s.output) }];
  if (nodes !== undefined && nodes.length > 0) {
    const outputs = s.outputs ?? {};
    for (const nodeId of nodes) {
      if (!(nodeId in outputs)) continue;
      const model = s.models[nodeId];
      out.push({
        ...base,
        evaluationId: `${s.runId}:${nodeId}`,
        nodeId,
        models: model === undefined ? {} : { [nodeId]: model },
        output: jsonText(outputs[nodeId]),
      });
    }
  }
  return out;
}
