/**
 * What an llm node asks the engine's guards before each model call: the call's pre-flight
 * estimate, a person's approval when a rule asks for one (the run waits, parked when durable),
 * and the request, model and watch the guards answered with.
 * @module
 */
import type * as z from 'zod';
import { PolicyError, ValidationError } from '../../src/errors.ts';
import { ApprovalSchema, type CallCheck, type CallEstimate, type CallWatch } from '../../src/definition/guard.ts';
import type { ExecServices, NodeContext } from '../../src/definition/types.ts';
import type { ResolvedModel } from '../../src/providers/models.ts';
import { countMessageTokens } from '../../src/providers/tokens.ts';
import type { CompletionRequest } from '../../src/providers/types.ts';

/**
 * Output tokens a call without `maxTokens` is estimated (and reserved) at. A budget guard that
 * must bound a call caps its `maxTokens` instead of trusting this.
 */
export const DEFAULT_OUTPUT_ALLOWANCE = 1024;

/**
 * A call's pre-flight estimate on `model`: prompt tokens, its output allowance and their price.
 *
 * @example
 * ```ts
 * estimateCall(services, 'openai:gpt-4o-mini', request); // { inputTokens: 520, outputTokens: 1024, costUsd: 0.0007 }
 * ```
 */
export function estimateCall(services: ExecServices, model: string, request: CompletionRequest): CallEstimate {
  const inputTokens = countMessageTokens(request.messages, services.models.countTokens);
  const outputTokens = request.maxTokens ?? DEFAULT_OUTPUT_ALLOWANCE;
  return { inputTokens, outputTokens, costUsd: services.models.cost(model, { inputTokens, outputTokens, cachedTokens: 0, reasoningTokens: 0 }) };
}

/**
 * Asks the guards about one call; resolves with what to call, or rejects with their refusal
 * (a PolicyError naming the rule). Approvals wait for their signal and ask again.
 *
 * @example
 * ```ts
 * const { model, request, watch } = await askGuards(m, req, ctx, services, 1);
 * ```
 */
export async function askGuards(
  m: ResolvedModel, req: CompletionRequest, ctx: NodeContext, services: ExecServices, attempt: number,
): Promise<{ readonly model: ResolvedModel; readonly request: CompletionRequest; readonly watch: CallWatch | undefined }> {
  let approved: Record<string, unknown> | undefined;
  const estimateOn = (model: string, request: CompletionRequest): CallEstimate | undefined => {
    const t = services.models.resolve(model);
    return t === undefined ? undefined : estimateCall(services, t.ref, request);
  };
  for (;;) {
    // the estimate is priced by the engine when a guard reads it
    const check: { -readonly [K in keyof Omit<CallCheck, 'runId' | 'topology' | 'tenant' | 'user' | 'project' | 'variant' | 'estimate'>]: CallCheck[K] } = {
      nodeId: ctx.nodeId, model: m.ref, provider: m.provider.name, request: req, attempt, estimateOn,
    };
    if (approved !== undefined) check.approved = approved;
    const v = await services.checkCall(ctx, check);
    if (v.action === 'deny') throw v.error;
    if (v.action === 'approval') {
      if (approved !== undefined && Object.hasOwn(approved, v.rule)) {
        throw new PolicyError('POLICY_FAILED', `rule '${v.rule}' asked again for an approval it was given (refused: fail-closed)`, { rule: v.rule });
      }
      const request = v.wait.timeoutMs === undefined ? { name: v.wait.name, schema: ApprovalSchema } : { name: v.wait.name, schema: ApprovalSchema, timeoutMs: v.wait.timeoutMs };
      const answer = await services.wait(ctx, request) as z.output<typeof ApprovalSchema>;
      if (!answer.approved) {
        throw new PolicyError('POLICY_DENIED', `the call of node '${ctx.nodeId}' to ${m.ref} was not approved${answer.by === undefined ? '' : ` by ${answer.by}`}${answer.note === undefined ? '' : `: ${answer.note}`} (rule '${v.rule}')`, { rule: v.rule });
      }
      (approved ??= {})[v.rule] = answer;
      continue;
    }
    let model = m;
    let request = v.request ?? req;
    if (v.model !== undefined && v.model !== m.ref) {
      const routed = services.models.resolve(v.model);
      if (routed === undefined) {
        v.watch?.ended?.(undefined);
        throw new ValidationError('MODEL_UNKNOWN', `a guard routed node '${ctx.nodeId}' to an unknown model`, [{ code: 'unknown_model', path: ['guard', v.rule ?? 'route', 'model'], message: `'${v.model}' is not in the engine's models` }]);
      }
      model = routed;
      request = { ...request, model: routed.model };
    }
    return { model, request, watch: v.watch };
  }
}
