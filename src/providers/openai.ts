/**
 * OpenAI-compatible chat completions over SSE: OpenAI itself and every server
 * that speaks the same API (Ollama `/v1`, vLLM, llama.cpp server, LM Studio).
 * Handles the usage chunk with `choices: []`, missing usage, errors inside a
 * 200 stream (an `error` event or a top-level `error` key), tool-call argument
 * fragments, and a stream that closes without `[DONE]` (a failure).
 * @module
 */
import type { EventSourceMessage } from 'eventsource-parser/stream';
import { ProviderError } from '../errors.ts';
import { BAD_STREAM, streamError, type CallSite } from './failures.ts';
import { streamSse, type SseDecoder } from './http.ts';
import type { ChatMessage, CompletionRequest, FinishReason, Provider, ProviderEvent } from './types.ts';
import * as z from 'zod';
import { HttpProviderOptionsSchema, parseProviderOptions } from './options.ts';
import { secretsOf } from './secrets.ts';
import { withJsonInstruction } from './json-mode.ts';

/**
 * Options of an OpenAI-compatible provider. Library code reads no environment:
 * pass the key and base URL (the CLI reads `OPENAI_API_KEY` / `OPENAI_BASE_URL`).
 */
export interface OpenAIProviderOptions {
  /** Provider name used as the model prefix. Default `openai`. */
  readonly name?: string;
  /** Default `https://api.openai.com/v1`; Ollama: `http://127.0.0.1:11434/v1`. */
  readonly baseUrl?: string;
  readonly apiKey?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Ask for the final usage chunk (`stream_options.include_usage`). Default true. */
  readonly includeUsage?: boolean;
  /**
   * Field that carries the token limit. Default: `max_completion_tokens` for api.openai.com (o-series
   * models reject `max_tokens`), `max_tokens` for other servers (Ollama, vLLM, llama.cpp, LM Studio).
   */
  readonly maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** The fetch implementation (default: the global one); for proxies, custom agents and tests. */
  readonly fetch?: typeof fetch;
}

const FINISH: Readonly<Record<string, FinishReason>> = {
  stop: 'stop', length: 'length', tool_calls: 'tool_calls', function_call: 'tool_calls', content_filter: 'content_filter',
};

interface Chunk {
  error?: unknown;
  id?: string;
  model?: string;
  choices?: { delta?: { content?: string | null; refusal?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason?: string | null }[];
  usage?: {
    prompt_tokens?: number; completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
    completion_tokens_details?: { reasoning_tokens?: number } | null;
  } | null;
}

class OpenAIDecoder implements SseDecoder {
  ended = false;
  /** Tool-call ids seen without an index, in order. */
  private readonly ids = new Map<string, number>();
  /** The response's model was reported (from the first chunk that names it). */
  private named = false;
  constructor(private readonly site: CallSite) {}

  decode(m: EventSourceMessage): readonly ProviderEvent[] {
    if (m.event === 'error') throw streamError(safeJson(m.data) ?? { error: { message: m.data } }, this.site);
    if (m.data === '[DONE]') {
      this.ended = true;
      return [];
    }
    const chunk = safeJson(m.data) as Chunk | undefined;
    if (chunk === undefined) throw new ProviderError(BAD_STREAM.code, `unparseable stream data: ${m.data.slice(0, 200)}`, BAD_STREAM.retriable, this.site);
    if (chunk.error !== undefined && chunk.error !== null) throw streamError(chunk, this.site);
    const out: ProviderEvent[] = [];
    if (!this.named && typeof chunk.model === 'string' && chunk.model !== '') {
      this.named = true;
      out.push({ type: 'model', model: chunk.model, ...(typeof chunk.id === 'string' && chunk.id !== '' ? { id: chunk.id } : {}) });
    }
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    if (delta?.content) out.push({ type: 'text', text: delta.content });
    if (delta?.refusal) out.push({ type: 'refusal', text: delta.refusal });
    if (delta?.tool_calls) {
      for (const tc of delta.tool_calls) {
        // Some compatible servers send each call whole, with an id but no index.
        let index = tc.index;
        if (index === undefined) {
          if (tc.id !== undefined && !this.ids.has(tc.id)) this.ids.set(tc.id, this.ids.size);
          index = tc.id !== undefined ? this.ids.get(tc.id)! : Math.max(0, this.ids.size - 1);
        }
        out.push({
          type: 'tool_call', index, arguments: tc.function?.arguments ?? '',
          ...(tc.id ? { id: tc.id } : {}), ...(tc.function?.name ? { name: tc.function.name } : {}),
        });
      }
    }
    if (choice?.finish_reason) out.push({ type: 'finish', reason: FINISH[choice.finish_reason] ?? 'other' });
    const u = chunk.usage;
    if (u) {
      out.push({
        type: 'usage',
        usage: {
          inputTokens: u.prompt_tokens ?? 0,
          outputTokens: u.completion_tokens ?? 0,
          cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
          reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
        },
      });
    }
    return out;
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function toWire(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.toolCallId !== undefined) out['tool_call_id'] = m.toolCallId;
  if (m.toolCalls !== undefined) {
    out['tool_calls'] = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  return out;
}

const OpenAIOptionsSchema = HttpProviderOptionsSchema.extend({
  includeUsage: z.boolean().optional(),
  maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
});

/**
 * Creates an OpenAI-compatible provider.
 *
 * @example
 * ```ts
 * const ollama = createOpenAIProvider({ name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' });
 * ```
 */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): Provider {
  parseProviderOptions(OpenAIOptionsSchema, options, 'openai');
  const secrets = secretsOf(options.apiKey, options.headers);
  const name = options.name ?? 'openai';
  const base = (options.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  const f = options.fetch ?? fetch;
  const includeUsage = options.includeUsage ?? true;
  const maxField = options.maxTokensField ?? (base === 'https://api.openai.com/v1' ? 'max_completion_tokens' : 'max_tokens');
  return {
    name,
    stream(req: CompletionRequest, signal?: AbortSignal) {
      const site = { provider: name, model: req.model };
      const body: Record<string, unknown> = { model: req.model, messages: withJsonInstruction(req.messages, req.json).map(toWire), stream: true };
      if (includeUsage) body['stream_options'] = { include_usage: true };
      if (req.temperature !== undefined) body['temperature'] = req.temperature;
      if (req.maxTokens !== undefined) body[maxField] = req.maxTokens;
      if (req.stop !== undefined) body['stop'] = req.stop;
      if (req.seed !== undefined) body['seed'] = req.seed;
      if (req.json) body['response_format'] = { type: 'json_object' };
      if (req.tools?.length) {
        body['tools'] = req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.parameters } }));
      }
      const headers: Record<string, string> = { ...options.headers };
      if (options.apiKey) headers['authorization'] = `Bearer ${options.apiKey}`;
      return streamSse({ url: `${base}/chat/completions`, headers, body, site, fetch: f, endMarker: '[DONE]', secrets }, signal, () => new OpenAIDecoder(site));
    },
  };
}
