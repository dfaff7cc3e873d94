/**
 * One streamed model call of an llm node: its time limits, the fold of the provider's stream into
 * an {@link LlmOutput} (text, tool calls, usage, refusal), the accounting and rate-limit settling
 * of what it used (also when it fails, is cut or is cancelled), the guards' watch on its stream and
 * output, and the `model.call` report to observers.
 * @module
 */
import { takeWhile, type Subscription } from 'rxjs';
import type * as z from 'zod';
import { isStoppedError, isPolicyError, isProviderError, serializeError, PolicyError, TimeoutError, ValidationError, type OrchestratorError } from '../../src/errors.ts';
import type { ExecServices, ModelCall, NodeContext } from '../../src/definition/types.ts';
import type { CallWatch, OutputVerdict } from '../../src/definition/guard.ts';
import type { ResolvedModel } from '../../src/providers/models.ts';
import type { Reservation } from '../../src/providers/ratelimit.ts';
import { countMessageTokens } from '../../src/providers/tokens.ts';
import type { CompletionRequest, FinishReason, Usage } from '../../src/providers/types.ts';
import { parseStructured, parseToolArguments, type LlmOutput } from './llm-output.ts';

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

/**
 * Streams one completion; resolves with the output (a stop by a consumer ends it normally). Tokens go to
 * `services.token` as they arrive (`progress.tokens` counts them); what the call used is accounted and its
 * rate-limit `reservation` settled however it ends.
 *
 * @example
 * ```ts
 * const out = await streamCall(model, { model: model.model, messages }, ctx, services, undefined, undefined, { idleMs: 10_000 }, { tokens: 0 }, 1, undefined);
 * out.text; // the streamed answer
 * ```
 */
export function streamCall<T>(
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
      const data = (schema !== undefined && reason !== 'stopped' ? parseStructured(text, schema) : undefined) as T;
      const out: { -readonly [K in keyof LlmOutput<T>]: LlmOutput<T>[K] } = {
        text, data, finishReason: finish, costUsd, model: m.ref, simulated: m.provider.simulated === true,
        usage: { ...u, estimated },
        toolCalls: tools.map((t) => ({ id: t.id, name: t.name, raw: t.raw, arguments: parseToolArguments(t.raw) })),
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
