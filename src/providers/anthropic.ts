/**
 * Anthropic Messages over SSE. Handles `message_start` usage, text and tool-use
 * blocks (input_json_delta fragments), cumulative usage in `message_delta`
 * (overwritten, not added), `ping` and unknown events (ignored), `event: error`
 * inside a 200 stream, and a stream that closes without `message_stop` (a failure).
 * @module
 */
import type { EventSourceMessage } from 'eventsource-parser/stream';
import { ProviderError } from '../errors.ts';
import { BAD_STREAM, streamError, type CallSite } from './failures.ts';
import { streamSse, type SseDecoder } from './http.ts';
import type { ChatMessage, CompletionRequest, FinishReason, Provider, ProviderEvent, Usage } from './types.ts';
import * as z from 'zod';
import { HttpProviderOptionsSchema, parseProviderOptions } from './options.ts';
import { secretsOf } from './secrets.ts';
import { withJsonInstruction } from './json-mode.ts';

/** Options of the Anthropic provider. Pass the key; library code reads no environment. */
export interface AnthropicProviderOptions {
  /** Provider name used as the model prefix. Default `anthropic`. */
  readonly name?: string;
  /** Default `https://api.anthropic.com`. */
  readonly baseUrl?: string;
  readonly apiKey?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** `max_tokens` when the request sets none (the API requires one). Default 1024. */
  readonly defaultMaxTokens?: number;
  /** The fetch implementation (default: the global one); for proxies, custom agents and tests. */
  readonly fetch?: typeof fetch;
}

const STOP: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter', pause_turn: 'other',
};

interface AnthropicUsage {
  input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number | null; cache_creation_input_tokens?: number | null;
}

class AnthropicDecoder implements SseDecoder {
  ended = false;
  private usage: { input: number; output: number; cacheRead: number; cacheWrite: number } = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  /** Content block index to tool-call index. */
  private readonly tools = new Map<number, number>();
  constructor(private readonly site: CallSite) {}

  private take(u: AnthropicUsage | undefined): void {
    if (!u) return;
    // message_delta usage is cumulative: overwrite what it carries.
    if (typeof u.input_tokens === 'number') this.usage.input = u.input_tokens;
    if (typeof u.output_tokens === 'number') this.usage.output = u.output_tokens;
    if (typeof u.cache_read_input_tokens === 'number') this.usage.cacheRead = u.cache_read_input_tokens;
    if (typeof u.cache_creation_input_tokens === 'number') this.usage.cacheWrite = u.cache_creation_input_tokens;
  }

  /** `final`: after `message_delta` (cumulative); `message_start`'s is a snapshot (output_tokens 1 or so). */
  private snapshot(final: boolean): ProviderEvent {
    const u = this.usage;
    // Anthropic's input_tokens excludes cache reads and writes; ours includes them, like OpenAI's prompt_tokens.
    const usage: Usage = { inputTokens: u.input + u.cacheRead + u.cacheWrite, outputTokens: u.output, cachedTokens: u.cacheRead, reasoningTokens: 0, cacheWriteTokens: u.cacheWrite };
    return { type: 'usage', usage, final };
  }

  decode(m: EventSourceMessage): readonly ProviderEvent[] {
    let data: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      data = JSON.parse(m.data) as Record<string, unknown>;
    } catch {
      throw new ProviderError(BAD_STREAM.code, `unparseable stream data: ${m.data.slice(0, 200)}`, BAD_STREAM.retriable, this.site);
    }
    const type = m.event ?? (data['type'] as string | undefined);
    switch (type) {
      case 'message_start': {
        const msg = data['message'];
        this.take(msg?.usage);
        const model = typeof msg?.model === 'string' && msg.model !== '' ? [{ type: 'model' as const, model: msg.model as string, ...(typeof msg.id === 'string' ? { id: msg.id as string } : {}) }] : [];
        return [...model, this.snapshot(false)];
      }
      case 'content_block_start': {
        const block = data['content_block'];
        if (block?.type === 'tool_use') {
          const index = this.tools.size;
          this.tools.set(data['index'] as number, index);
          return [{ type: 'tool_call', index, id: String(block.id), name: String(block.name), arguments: '' }];
        }
        if (block?.type === 'text' && typeof block.text === 'string' && block.text.length > 0) return [{ type: 'text', text: block.text }];
        return [];
      }
      case 'content_block_delta': {
        const d = data['delta'];
        if (d?.type === 'text_delta') return d.text ? [{ type: 'text', text: String(d.text) }] : [];
        if (d?.type === 'input_json_delta') {
          const index = this.tools.get(data['index'] as number) ?? 0;
          return [{ type: 'tool_call', index, arguments: String(d.partial_json ?? '') }];
        }
        return []; // thinking_delta, signature_delta, citations: not surfaced
      }
      case 'message_delta': {
        this.take(data['usage']);
        const out: ProviderEvent[] = [this.snapshot(true)];
        const reason = data['delta']?.stop_reason;
        if (typeof reason === 'string') out.push({ type: 'finish', reason: STOP[reason] ?? 'other' });
        return out;
      }
      case 'message_stop':
        this.ended = true;
        return [];
      case 'error':
        throw streamError(data, this.site);
      default:
        return []; // ping, content_block_stop, and event types added later
    }
  }
}

function toWire(messages: readonly ChatMessage[]): { system: string | undefined; messages: unknown[] } {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n') || undefined;
  const out = messages.filter((m) => m.role !== 'system').map((m) => {
    if (m.role === 'tool') return { role: 'user', content: [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }] };
    if (m.role === 'assistant' && m.toolCalls?.length) {
      return {
        role: 'assistant',
        content: [
          ...(m.content ? [{ type: 'text', text: m.content }] : []),
          ...m.toolCalls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments ? JSON.parse(c.arguments) as unknown : {} })),
        ],
      };
    }
    return { role: m.role, content: m.content };
  });
  return { system, messages: out };
}

const AnthropicOptionsSchema = HttpProviderOptionsSchema.extend({
  defaultMaxTokens: z.number().int().positive().optional(),
});

/**
 * Creates the Anthropic Messages provider.
 *
 * @example
 * ```ts
 * const anthropic = createAnthropicProvider({ apiKey: process.env.ANTHROPIC_API_KEY });
 * ```
 */
export function createAnthropicProvider(options: AnthropicProviderOptions = {}): Provider {
  parseProviderOptions(AnthropicOptionsSchema, options, 'anthropic');
  const secrets = secretsOf(options.apiKey, options.headers);
  const name = options.name ?? 'anthropic';
  const base = (options.baseUrl ?? 'https://api.anthropic.com').replace(/\/+$/, '');
  const f = options.fetch ?? fetch;
  return {
    name,
    stream(req: CompletionRequest, signal?: AbortSignal) {
      const site = { provider: name, model: req.model };
      const { system, messages } = toWire(withJsonInstruction(req.messages, req.json));
      const body: Record<string, unknown> = { model: req.model, messages, max_tokens: req.maxTokens ?? options.defaultMaxTokens ?? 1024, stream: true };
      if (system !== undefined) body['system'] = system;
      if (req.temperature !== undefined) body['temperature'] = req.temperature;
      if (req.stop !== undefined) body['stop_sequences'] = req.stop;
      if (req.tools?.length) body['tools'] = req.tools.map((t) => ({ name: t.name, description: t.description ?? '', input_schema: t.parameters }));
      const headers: Record<string, string> = { 'anthropic-version': '2023-06-01', ...options.headers };
      if (options.apiKey) headers['x-api-key'] = options.apiKey;
      return streamSse({ url: `${base}/v1/messages`, headers, body, site, fetch: f, endMarker: 'message_stop', secrets }, signal, () => new AnthropicDecoder(site));
    },
  };
}
