/**
 * What an llm node asks the engine's guards before each model call: the call's pre-flight
 * estimate, a person's approval when a rule asks for one (the run waits, parked when durable),
 * and the request, model and watch the guards answered with.
 * @module
 */
import type * as z from 'zod';
import { PolicyError, ValidationError } from '../../src/errors.ts';
import { ApprovalSchema, type CallCheck, type CallEstimate, type CallVerdict, type CallWatch } from '../../src/definition/guard.ts';
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

/** What the guards answered for one call: the model and request to call, and the watch on its answer. */
export interface Asked {
  readonly model: ResolvedModel;
  readonly request: CompletionRequest;
  readonly watch: CallWatch | undefined;
}

/**
 * Asks the guards about one call: what to call, or a throw (a promise's rejection once a guard
 * answered asynchronously) with their refusal (a PolicyError naming the rule). Synchronous when
 * every guard answers at once, so a call the guards allow costs no extra turn of the event loop.
 * Approvals wait for their signal and ask again.
 *
 * @example
 * ```ts
 * const asked = askGuards(m, req, ctx, services, 1);
 * const { model, request, watch } = asked instanceof Promise ? await asked : asked;
 * ```
 */
export function askGuards(m: ResolvedModel, req: CompletionRequest, ctx: NodeContext, services: ExecServices, attempt: number): Asked | Promise<Asked> {
  return new GuardQuestion(m, req, ctx, services, attempt).ask(undefined);
}

/** One call's questions to the guards (a class, so asking creates no closures). */
class GuardQuestion {
  constructor(
    readonly m: ResolvedModel,
    readonly req: CompletionRequest,
    readonly ctx: NodeContext,
    readonly services: ExecServices,
    readonly attempt: number,
  ) {}

  /** The call's estimate on `model` (the engine prices it when a guard reads it). */
  readonly estimateOn = (model: string, request: CompletionRequest): CallEstimate | undefined => {
    const t = this.services.models.resolve(model);
    return t === undefined ? undefined : estimateCall(this.services, t.ref, request);
  };

  ask(approved: Record<string, unknown> | undefined): Asked | Promise<Asked> {
    const { m, ctx } = this;
    const check: { -readonly [K in keyof Omit<CallCheck, 'runId' | 'topology' | 'tenant' | 'user' | 'project' | 'variant' | 'estimate'>]: CallCheck[K] } = {
      nodeId: ctx.nodeId, model: m.ref, provider: m.provider.name, request: this.req, attempt: this.attempt, estimateOn: this.estimateOn,
    };
    if (approved !== undefined) check.approved = approved;
    const v = this.services.checkCall(ctx, check);
    return v instanceof Promise ? v.then((r) => this.answered(r, approved)) : this.answered(v, approved);
  }

  answered(v: CallVerdict, approved: Record<string, unknown> | undefined): Asked | Promise<Asked> {
    const { m, ctx, services } = this;
    if (v.action === 'deny') throw v.error;
    if (v.action === 'approval') return this.approval(v.rule, v.wait, approved);
    let model = m;
    let request = v.request ?? this.req;
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

  /** A rule asks a person: the run waits for the approval signal, then the guards are asked again. */
  async approval(rule: string, wait: { readonly name: string; readonly timeoutMs?: number | undefined }, approved: Record<string, unknown> | undefined): Promise<Asked> {
    const { m, ctx } = this;
    if (approved !== undefined && Object.hasOwn(approved, rule)) {
      throw new PolicyError('POLICY_FAILED', `rule '${rule}' asked again for an approval it was given (refused: fail-closed)`, { rule });
    }
    const request = wait.timeoutMs === undefined ? { name: wait.name, schema: ApprovalSchema } : { name: wait.name, schema: ApprovalSchema, timeoutMs: wait.timeoutMs };
    const answer = await this.services.wait(ctx, request) as z.output<typeof ApprovalSchema>;
    if (!answer.approved) {
      throw new PolicyError('POLICY_DENIED', `the call of node '${ctx.nodeId}' to ${m.ref} was not approved${answer.by === undefined ? '' : ` by ${answer.by}`}${answer.note === undefined ? '' : `: ${answer.note}`} (rule '${rule}')`, { rule });
    }
    return this.ask({ ...approved, [rule]: answer });
  }
}
