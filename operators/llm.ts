/**
 * `llm`: one streamed model call. Messages come from a template function over
 * the node's typed inputs; tokens go onto the bus and to streaming consumers as
 * they arrive; the output carries the text, optional structured data validated
 * with zod, tool calls as data, usage and cost. Provider retries belong to the
 * engine, not to this operator.
 * @module
 */
import { takeWhile, type Subscription } from 'rxjs';
import * as z from 'zod';
import { isStoppedError, isPolicyError, isProviderError, isCircuitOpenError, isRetriesExhaustedError, serializeError, PolicyError, TimeoutError, ValidationError, type OrchestratorError } from '../src/errors.ts';
import { CallHooks, guardedCall } from '../src/resilience/guard.ts';
import type { RetryBudget, RetryOptions } from '../src/resilience/retry.ts';
import { toIssues } from '../src/errors.ts';
import type { ExecServices, ModelCall, NodeContext, NodeDef } from '../src/definition/types.ts';
import type { CallWatch, OutputVerdict } from '../src/definition/guard.ts';
import { askGuards } from './internal/guarded.ts';
import type { ResolvedModel } from '../src/providers/models.ts';
import type { Reservation } from '../src/providers/ratelimit.ts';
import { countMessageTokens } from '../src/providers/tokens.ts';
import type { ChatMessage, CompletionRequest, FinishReason, ToolDescription, Usage } from '../src/providers/types.ts';
import type { Tool } from './tool.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** A tool call the model made, with its arguments parsed from JSON (or the raw text when unparseable). */
export interface LlmToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: unknown;
  readonly raw: string;
}

/** Output of an llm node. `data` is the structured output when a `schema` is set. */
export interface LlmOutput<T = undefined> {
  readonly text: string;
  readonly data: T;
  readonly toolCalls: readonly LlmToolCall[];
  readonly finishReason: FinishReason;
  /** `estimated` when the provider reported no usage and it was counted with the models' token counter. */
  readonly usage: Usage & { readonly estimated: boolean };
  readonly costUsd: number;
  /** The model reference that served. */
  readonly model: string;
  /** True when a simulated provider served (label its output as such). */
  readonly simulated: boolean;
  /** The model declined: its refusal text (OpenAI `refusal`); the finish reason is then `content_filter`. */
  readonly refusal?: string;
}

/** Time limits of one model call. Each one aborts the HTTP request and is a retriable TimeoutError. */
export interface CallTimeouts {
  /** Until the response headers arrive. */
  readonly connectMs?: number;
  /** Until the first token (text or tool call). */
  readonly firstTokenMs?: number;
  /** Longest gap between two tokens. */
  readonly idleMs?: number;
  /** The whole call. */
  readonly totalMs?: number;
}

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

const FENCE = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/;

/** Parses and validates structured output. */
function structured<T>(text: string, schema: z.ZodType<T>): T {
  const body = FENCE.exec(text)?.[1] ?? text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    throw new ValidationError('LLM_OUTPUT_INVALID', 'model output is not valid JSON', [{ code: 'invalid_json', path: ['text'], message: (e as Error).message }]);
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new ValidationError('LLM_OUTPUT_INVALID', 'model output does not match the schema', toIssues(r.error.issues, ['data']));
  return r.data;
}

function parseArgs(raw: string): unknown {
  try {
    return raw === '' ? {} : JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The output of a call stopped before any token (e.g. while it waited for its rate limit). */
function stoppedEarly<T>(m: ResolvedModel): LlmOutput<T> {
  return {
    text: '', data: undefined as T, toolCalls: [], finishReason: 'stopped', costUsd: 0, model: m.ref, simulated: m.provider.simulated === true,
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, estimated: false },
  };
}

/** Streams one completion; resolves with the output (a stop by a consumer ends it normally). */
function call<T>(
  m: ResolvedModel, req: CompletionRequest, ctx: NodeContext, services: ExecServices,
  reservation: Reservation | undefined, schema: z.ZodType<T> | undefined,
  timeouts: CallTimeouts | undefined, progress: { tokens: number }, attempt: number, watch: CallWatch | undefined,
): Promise<LlmOutput<T>> {
  return new Promise((resolve, reject) => {
    let sub: Subscription | undefined;
    /** The guards cut the call mid-stream (a budget ran out): the error it ends with. */
    let cut: OrchestratorError | undefined;
    /** Output tokens streamed so far, counted only for a watch that asks. */
    let streamedTokens = 0;
    let promptTokens = -1;
    let watchEnded = watch?.ended === undefined;
    const tellWatch = (used: { readonly usage: Usage; readonly costUsd: number } | undefined): void => {
      if (watchEnded) return;
      watchEnded = true;
      watch!.ended!(used);
    };
    const startTs = Date.now();
    let firstTokenTs: number | undefined;
    let responseModel: string | undefined;
    let responseId: string | undefined;
    let text = '';
    let index = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let total: ReturnType<typeof setTimeout> | undefined;
    let phase: 'connect' | 'first token' | 'idle' | undefined;
    const arm = (next: 'connect' | 'first token' | 'idle' | undefined, ms: number | undefined): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      phase = next;
      if (ms !== undefined && next !== undefined) timer = setTimeout(() => expire(`${next} timeout`, ms), ms);
    };
    const expire = (what: string, ms: number): void => {
      sub?.unsubscribe(); // aborts the HTTP request
      clear();
      const e = new TimeoutError(`${m.ref} ${what}`, ms);
      billCut(e);
      reject(e);
    };
    let unlisten: (() => void) | undefined;
    const clear = (): void => {
      unlisten?.();
      if (timer !== undefined) clearTimeout(timer);
      if (total !== undefined) clearTimeout(total);
      timer = total = undefined;
    };
    let usage: Usage | undefined;
    /** The provider's count is final (not Anthropic's `message_start` snapshot). */
    let usageFinal = false;
    /** The provider started generating (it bills the call from here on). */
    let generating = false;
    let finishReason: FinishReason | undefined;
    let refusal = '';
    const tools: { id: string; name: string; raw: string }[] = [];
    /**
     * The call's usage: the provider's final count, else an estimate (marked) of what it streamed, with
     * the provider's own input count when it sent one. Providers bill what they streamed, whatever ended it.
     */
    const measure = (): { readonly u: Usage; readonly estimated: boolean } => {
      if (usage !== undefined && usageFinal) return { u: usage, estimated: false };
      let streamed = services.models.countTokens(text);
      for (const t of tools) streamed += services.models.countTokens(t.name) + services.models.countTokens(t.raw);
      return {
        u: {
          inputTokens: usage?.inputTokens ?? countMessageTokens(req.messages, services.models.countTokens),
          outputTokens: Math.max(usage?.outputTokens ?? 0, streamed),
          cachedTokens: usage?.cachedTokens ?? 0,
          reasoningTokens: usage?.reasoningTokens ?? 0,
        },
        estimated: true,
      };
    };
    /** Tells observers (telemetry) how the call went: a `model.call` event, built only when the bus is observed. */
    const report = (used: { readonly u: Usage; readonly estimated: boolean } | undefined, finish: FinishReason | undefined, error: unknown): void => {
      if (!services.observed) return;
      const c: { -readonly [K in keyof ModelCall]: ModelCall[K] } = {
        startTs, ts: Date.now(), provider: m.provider.name, model: m.ref, request: req, attempt, text,
        costUsd: used === undefined ? 0 : services.models.cost(m.ref, used.u),
      };
      if (firstTokenTs !== undefined) c.firstTokenTs = firstTokenTs;
      if (responseModel !== undefined) c.responseModel = responseModel;
      if (responseId !== undefined) c.responseId = responseId;
      if (used !== undefined) c.usage = { ...used.u, estimated: used.estimated };
      if (finish !== undefined) c.finishReason = finish;
      if (error !== undefined) c.error = serializeError(error);
      services.modelCall(ctx, c);
    };
    /** A call that ends without an answer (failed, cut, cancelled, timed out) still counts what it streamed. */
    const billCut = (error: unknown): void => {
      if (!generating) {
        if (reservation !== undefined) m.limiter?.settle(reservation, reservation.tokens);
        tellWatch(undefined);
        report(undefined, undefined, error);
        return;
      }
      const used = measure();
      const { u } = used;
      const costUsd = services.models.cost(m.ref, u);
      services.account(ctx, u, costUsd, m.ref);
      if (reservation !== undefined) m.limiter?.settle(reservation, u.inputTokens + u.outputTokens);
      tellWatch({ usage: u, costUsd });
      report(used, undefined, error);
    };
    /** Ends a call the guards cut: billed as far as it streamed, failing with the guards' error and the text so far. */
    const endCut = (): void => {
      clear();
      const e = cut!;
      const err = isPolicyError(e) && e.partial === undefined
        ? new PolicyError(e.code, e.message, { rule: e.rule, partial: text, retriable: false, ...(e.cause === undefined ? {} : { cause: e.cause }) })
        : e;
      billCut(err);
      reject(err);
    };
    /** Asks the watch after a streamed chunk whether the call may go on. */
    const mayGoOn = (chunk: string): boolean => {
      streamedTokens += services.models.countTokens(chunk);
      if (promptTokens < 0) promptTokens = countMessageTokens(req.messages, services.models.countTokens);
      const costUsd = services.models.cost(m.ref, { inputTokens: promptTokens, outputTokens: streamedTokens, cachedTokens: 0, reasoningTokens: 0 });
      const e = watch!.streamed!(streamedTokens, costUsd);
      if (e === undefined) return true;
      cut = e;
      if (sub !== undefined && !sub.closed) {
        sub.unsubscribe(); // aborts the HTTP request
        endCut();
      }
      return false;
    };
    const end = (reason: FinishReason): void => {
      clear();
      void settle(reason).then(resolve, reject);
    };
    const settle = async (reason: FinishReason): Promise<LlmOutput<T>> => {
      const used = measure();
      const { u, estimated } = used;
      const costUsd = services.models.cost(m.ref, u);
      services.account(ctx, u, costUsd, m.ref);
      if (reservation !== undefined) m.limiter?.settle(reservation, u.inputTokens + u.outputTokens);
      tellWatch({ usage: u, costUsd });
      const refused = refusal !== '';
      const finish: FinishReason = refused && reason !== 'stopped' ? 'content_filter' : reason;
      report(used, finish, undefined);
      if (watch?.output !== undefined && text !== '') {
        const asked = watch.output(text);
        // a guard's watch may answer at once (no extra turn) or with a promise (or any thenable)
        const v = typeof (asked as { then?: unknown }).then === 'function' ? await asked : asked as OutputVerdict;
        services.decidedOutput(ctx, m.ref, v);
        if (v.action === 'deny') throw v.error;
        if (v.action === 'redact') text = v.text;
      }
      if (refused && schema !== undefined) {
        throw new ValidationError('LLM_REFUSED', `${m.ref} refused to answer: ${refusal}`, [{ code: 'refused', path: ['refusal'], message: refusal }]);
      }
      const data = (schema !== undefined && reason !== 'stopped' ? structured(text, schema) : undefined) as T;
      const out: { -readonly [K in keyof LlmOutput<T>]: LlmOutput<T>[K] } = {
        text, data, finishReason: finish, costUsd, model: m.ref, simulated: m.provider.simulated === true,
        usage: { ...u, estimated },
        toolCalls: tools.map((t) => ({ id: t.id, name: t.name, raw: t.raw, arguments: parseArgs(t.raw) })),
      };
      if (refused) out.refusal = refusal;
      return out;
    };
    if (timeouts !== undefined) {
      arm('connect', timeouts.connectMs);
      if (timeouts.totalMs !== undefined) total = setTimeout(() => expire('total timeout', timeouts.totalMs!), timeouts.totalMs);
    }
    // An abort (cancel, timeout, a consumer's stop) tears the stream down even for providers that only react
    // to unsubscribing: takeWhile ends a synchronous stream at the next token, the listener (added after the
    // provider's own, so it sees the abort first) ends an asynchronous one.
    const signal = ctx.signal;
    sub = m.provider.stream(req, signal).pipe(takeWhile(() => !signal.aborted && cut === undefined)).subscribe({
      next: (e) => {
        switch (e.type) {
          case 'text':
            generating = true;
            firstTokenTs ??= Date.now();
            if (phase !== undefined) arm('idle', timeouts!.idleMs);
            // the text first: a consumer may stop the call from inside token(), which settles it at once
            text += e.text;
            progress.tokens = index + 1;
            services.token(ctx, index++, e.text);
            if (watch?.streamed !== undefined) mayGoOn(e.text);
            break;
          case 'tool_call': {
            generating = true;
            firstTokenTs ??= Date.now();
            if (phase !== undefined) arm('idle', timeouts!.idleMs);
            const t = (tools[e.index] ??= { id: '', name: '', raw: '' });
            if (e.id !== undefined) t.id = e.id;
            if (e.name !== undefined) t.name = e.name;
            t.raw += e.arguments;
            break;
          }
          case 'usage':
            generating = true;
            usage = e.usage;
            usageFinal = e.final !== false;
            break;
          case 'finish':
            finishReason = e.reason;
            break;
          case 'refusal':
            generating = true;
            firstTokenTs ??= Date.now();
            refusal += e.text;
            break;
          case 'model':
            responseModel = e.model;
            if (e.id !== undefined) responseId = e.id;
            break;
          case 'response':
            m.limiter?.observe(e.rateLimit);
            if (phase === 'connect') arm('first token', timeouts!.firstTokenMs);
            break;
        }
      },
      error: (err: unknown) => {
        if (cut !== undefined) return endCut();
        clear();
        if (isStoppedError(ctx.signal.reason)) return end('stopped');
        // a 429 (or 529) that says how long to wait pauses every run's calls to this model, not just this one
        if (isProviderError(err) && err.retryAfterMs !== undefined) m.limiter?.observe({ retryAfterMs: err.retryAfterMs });
        billCut(err);
        reject(err);
      },
      complete: () => (cut !== undefined ? endCut() : signal.aborted ? onAborted() : end(finishReason ?? 'other')),
    });
    function onAborted(): void {
      clear();
      if (isStoppedError(signal.reason)) return end('stopped');
      billCut(signal.reason);
      reject(signal.reason);
    }
    const live = sub;
    const onAbort = (): void => {
      if (live.closed) return;
      live.unsubscribe();
      onAborted();
    };
    if (!live.closed) {
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        unlisten = () => signal.removeEventListener('abort', onAbort);
      }
    }
  });
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
    return call(model, request, ctx, services, reservation, spec.schema, spec.timeouts, progress, attempt, watch);
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
