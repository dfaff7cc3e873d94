/**
 * The provider seam: one completion request in, a stream of typed events out.
 * A provider returns a cold Observable; unsubscribing aborts the HTTP request.
 * @module
 */
import type { Observable } from 'rxjs';

/** One chat message. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
  /** For `tool` messages: the call this answers. */
  readonly toolCallId?: string;
  /** For `assistant` messages that called tools. */
  readonly toolCalls?: readonly ToolCall[];
}

/** A tool the model may call, described by a JSON schema. */
export interface ToolDescription {
  readonly name: string;
  readonly description?: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** A tool call the model made (arguments joined from their fragments). */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  /** Raw JSON text of the arguments, as the model wrote it. */
  readonly arguments: string;
}

/** One completion request, provider-neutral. */
export interface CompletionRequest {
  /** Model name without the provider prefix (`gpt-4o-mini`). */
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly stop?: readonly string[];
  readonly tools?: readonly ToolDescription[];
  /** Ask for a JSON object as the whole answer (structured output). */
  readonly json?: boolean;
  /** Seed, for providers that support deterministic sampling (and `sim:`). */
  readonly seed?: number;
}

/** Token counts of one completion. */
export interface Usage {
  /** Prompt tokens, including cached ones. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens served from the provider's cache (a subset of inputTokens). */
  readonly cachedTokens: number;
  /** Output tokens spent on reasoning (a subset of outputTokens). */
  readonly reasoningTokens: number;
  /** Prompt tokens written to the provider's cache (a subset of inputTokens; Anthropic bills them at 1.25x input). */
  readonly cacheWriteTokens?: number;
}

/**
 * Token and cost totals of many calls: a run, a node, a tenant, a result on the wire.
 * The one usage-totals type of the library.
 *
 * @example
 * ```ts
 * const u: UsageTotals = engine.usage('acme');
 * console.log(`${u.calls} calls, $${u.costUsd.toFixed(4)}`);
 * ```
 */
export interface UsageTotals {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly reasoningTokens: number;
  readonly costUsd: number;
  /** Model calls counted. */
  readonly calls: number;
}

/** Why generation ended. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'stopped' | 'other';

/** Rate-limit state a provider reported in its response headers. */
export interface RateLimitInfo {
  readonly remainingRequests?: number;
  readonly remainingTokens?: number;
  /** Ms until the request budget resets. */
  readonly resetRequestsMs?: number;
  /** Ms until the token budget resets. */
  readonly resetTokensMs?: number;
  /** Ms the provider asked us to wait (retry-after / retry-after-ms). */
  readonly retryAfterMs?: number;
}

/** What a provider stream emits, in order: `response` first, `finish` last (usage may come before or after it). */
export type ProviderEvent =
  | { readonly type: 'response'; readonly status: number; readonly rateLimit: RateLimitInfo; readonly requestId?: string }
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'tool_call'; readonly index: number; readonly id?: string; readonly name?: string; readonly arguments: string }
  /** `final: false`: a snapshot the provider will update (Anthropic's `message_start`); absent or true: its count for the call. */
  | { readonly type: 'usage'; readonly usage: Usage; readonly final?: boolean }
  | { readonly type: 'finish'; readonly reason: FinishReason }
  /** The model declined (OpenAI `delta.refusal`): the refusal text, streamed like text. */
  | { readonly type: 'refusal'; readonly text: string }
  /** What the provider says it answered with (OpenAI's chunk `model`/`id`, Anthropic's `message_start`), once. */
  | { readonly type: 'model'; readonly model: string; readonly id?: string };

/**
 * An LLM provider. `stream` is cold: each subscription makes one request, and
 * unsubscribing (or aborting `signal`) aborts it. Failures are ProviderErrors.
 *
 * @example
 * ```ts
 * provider.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, signal)
 *   .subscribe((e) => { if (e.type === 'text') process.stdout.write(e.text); });
 * ```
 */
export interface Provider {
  /** Provider name, the prefix of model references (`openai` in `openai:gpt-4o-mini`). */
  readonly name: string;
  /** True for the simulated provider, so UIs can label its output. */
  readonly simulated?: boolean;
  /** One request per subscription: `response` first, then text, tool-call and usage events, `finish` last; errors are ProviderErrors. */
  stream(request: CompletionRequest, signal?: AbortSignal): Observable<ProviderEvent>;
}

/** Zero usage. */
export const NO_USAGE: Usage = Object.freeze({ inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0 });
