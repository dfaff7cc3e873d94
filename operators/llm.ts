/**
 * `llm`: one streamed model call. Messages come from a template function over
 * the node's typed inputs; tokens go onto the bus and to streaming consumers as
 * they arrive; the output carries the text, optional structured data validated
 * with zod, tool calls as data, usage and cost. Provider retries belong to the
 * engine, not to this operator.
 * @module
 */
import * as z from 'zod';
import { isCircuitOpenError, isRetriesExhaustedError, isStoppedError, serializeError, ValidationError } from '../src/errors.ts';
import { CallHooks, guardedCall } from '../src/resilience/guard.ts';
import type { RetryBudget, RetryOptions } from '../src/resilience/retry.ts';
import type { ExecServices, NodeContext, NodeDef } from '../src/definition/types.ts';
import type { CallWatch } from '../src/definition/guard.ts';
import { askGuards } from './internal/guarded.ts';
import type { ResolvedModel } from '../src/providers/models.ts';
import type { Reservation } from '../src/providers/ratelimit.ts';
import { countMessageTokens } from '../src/providers/tokens.ts';
import type { ChatMessage, CompletionRequest, ToolDescription } from '../src/providers/types.ts';
import type { Tool } from './tool.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';
import { stoppedEarly, type LlmOutput } from './internal/llm-output.ts';
import { streamCall, type CallTimeouts } from './internal/llm-call.ts';

export type { LlmOutput, LlmToolCall } from './internal/llm-output.ts';
export type { CallTimeouts } from './internal/llm-call.ts';

/** Spec of an llm node. */
export interface LlmSpec<I, D, T> extends BaseSpec<LlmOutput<T>> {
  /**
   * Model reference `provider:model` (e.g. `openai:gpt-4o-mini`, `anthropic:claude-sonnet-4-5`, `sim:default`),
   * or a fallback chain: when a model's breaker is open or its retries run out, the next one serves.
   */
  readonly model: string | readonly string[];
  /** Time limits of each call. */
  readonly timeouts?: CallTimeouts;
  /**
   * Whether a call that failed after tokens were streamed may be retried. Streaming
   * consumers then get a restart marker. Default true.
   */
  readonly restartable?: boolean;
  /** The prompt: a user message, or the whole message list. */
  readonly prompt: (ctx: NodeContext<I, D>) => string | readonly ChatMessage[];
  /** System message prepended to the prompt. */
  readonly system?: string;
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** Structured output: the final text must be JSON valid for this schema. */
  readonly schema?: z.ZodType<T>;
  /** Tools offered to the model; its calls come back in `toolCalls`. */
  readonly tools?: readonly Tool<any, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One model of a node's chain: the hooks of its guarded call, and the call itself. */
class LlmAttempt<T> extends CallHooks {
  constructor(
    private readonly m: ResolvedModel,
    private readonly req: CompletionRequest,
    private readonly ctx: NodeContext,
    private readonly services: ExecServices,
    private readonly spec: Pick<LlmSpec<unknown, unknown, T>, 'restartable' | 'maxTokens' | 'schema' | 'timeouts'>,
    retry: RetryOptions,
    budget: RetryBudget,
    private readonly progress: { tokens: number },
  ) {
    super(m.ref, m.provider.name, retry, ctx.signal, budget);
  }

  /** Calls of this model made so far (the attempt number of the latest). */
  private calls = 0;

  /** Transient, and not after streamed tokens of a node that must not restart (then the failure ends the node untouched). */
  again(e: unknown): boolean {
    return (e as { retriable?: unknown } | null)?.retriable === true && !(this.spec.restartable === false && this.progress.tokens > 0);
  }

  override retriable(e: unknown): boolean {
    return this.again(e) && super.retriable(e);
  }

  onRetry(error: unknown, attempt: number, delayMs: number): void {
    this.services.note(this.ctx, { type: 'retry', attempt, delayMs, error: serializeError(error), model: this.m.ref });
  }

  /** One call of this model (a retry or fallback after streamed tokens first tells consumers to start over). */
  async once(): Promise<LlmOutput<T>> {
    const { m, ctx, services, spec, progress } = this;
    if (progress.tokens > 0) {
      services.restart(ctx, `restarting on ${m.ref}`);
      progress.tokens = 0;
    }
    const attempt = ++this.calls;
    // the guards may refuse the call, wait for a person's approval, rewrite the request or route it to another model
    let model = m;
    let request = this.req;
    let watch: CallWatch | undefined;
    if (services.guarded) {
      const a = askGuards(m, this.req, ctx, services, attempt);
      ({ model, request, watch } = a instanceof Promise ? await a : a);
    }
    let reservation: Reservation | undefined;
    if (model.limiter !== undefined) {
      const estimate = countMessageTokens(request.messages, services.models.countTokens) + (request.maxTokens ?? 256);
      try {
        reservation = await model.limiter.acquire(estimate, ctx.signal);
      } catch (e) {
        watch?.ended?.(undefined);
        if (isStoppedError(ctx.signal.reason)) return stoppedEarly<T>(model);
        throw e;
      }
    }
    return streamCall(model, request, ctx, services, reservation, spec.schema, spec.timeouts, progress, attempt, watch);
  }
}

/**
 * Creates an llm node.
 *
 * @example
 * ```ts
 * const answer = llm('answer', {
 *   model: 'sim:default',
 *   system: 'Answer briefly.',
 *   prompt: ({ input }: NodeContext<{ question: string }>) => input.question,
 *   maxTokens: 200,
 * });
 * ```
 */
export function llm<Id extends string, I, D, T = undefined>(id: Id, spec: LlmSpec<I, D, T>): NodeDef & { readonly id: Id } {
  const toolDescriptions: ToolDescription[] | undefined = spec.tools?.map((t) => ({
    name: t.name,
    ...(t.description === undefined ? {} : { description: t.description }),
    parameters: z.toJSONSchema(t.input as z.ZodType) as Record<string, unknown>,
  }));
  const specChain: readonly string[] = typeof spec.model === 'string' ? [spec.model] : spec.model;
  const execute: NodeDef['execute'] = async (ctx, services) => {
    // a run's override (RunOptions `overrides`, e.g. a fork trying another model or prompt)
    const o = services.override(ctx);
    const prompt = o?.prompt ?? spec.prompt(ctx as NodeContext<I, D>);
    const system = o?.system ?? spec.system;
    const chain: readonly string[] = o?.model === undefined ? specChain : typeof o.model === 'string' ? [o.model] : o.model;
    const messages: ChatMessage[] = [
      ...(system === undefined ? [] : [{ role: 'system' as const, content: system }]),
      ...(typeof prompt === 'string' ? [{ role: 'user' as const, content: prompt }] : prompt),
    ];
    const retry = { ...services.resilience.retry, ...spec.retry };
    const budget = services.budget(ctx);
    const progress = { tokens: 0 };
    let last: unknown;
    for (let k = 0; k < chain.length; k++) {
      const m = services.models.resolve(chain[k]!);
      if (m === undefined) throw new ValidationError('MODEL_UNKNOWN', `llm node '${ctx.nodeId}' was given an unknown model`, [{ code: 'unknown_model', path: ['overrides', ctx.nodeId, 'model'], message: `'${chain[k]!}' is not in the engine's models` }]);
      const req: { -readonly [K in keyof CompletionRequest]: CompletionRequest[K] } = { model: m.model, messages };
      const temperature = o?.temperature ?? spec.temperature;
      if (temperature !== undefined) req.temperature = temperature;
      const maxTokens = o?.maxTokens ?? spec.maxTokens;
      if (maxTokens !== undefined) req.maxTokens = maxTokens;
      if (spec.stop !== undefined) req.stop = spec.stop;
      if (spec.seed !== undefined) req.seed = spec.seed;
      if (spec.schema !== undefined) req.json = true;
      if (toolDescriptions !== undefined) req.tools = toolDescriptions;
      const attempt = new LlmAttempt(m, req, ctx, services, spec, retry, budget, progress);
      try {
        return await guardedCall(services.resilience, attempt, () => attempt.once());
      } catch (e) {
        last = e;
        const next = chain[k + 1];
        const fallBack = next !== undefined && !ctx.signal.aborted && (isCircuitOpenError(e) || isRetriesExhaustedError(e) || attempt.again(e));
        if (!fallBack) throw e;
        services.note(ctx, { type: 'fallback', from: m.ref, to: next, reason: serializeError(e) });
      }
    }
    throw last;
  };
  return nodeDef(id, 'llm', spec, execute, { models: specChain });
}
