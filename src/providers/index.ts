/**
 * `llm-orchestrator/providers`: the HTTP providers, speaking the real wire
 * protocols (OpenAI-compatible chat completions and Anthropic Messages over
 * SSE), and the one failure table they classify errors with.
 *
 * @example
 * ```ts
 * import { createOpenAIProvider } from 'llm-orchestrator/providers';
 * const models = createModels({ providers: [createOpenAIProvider({ apiKey })] });
 * ```
 * @module
 */
export { createOpenAIProvider, type OpenAIProviderOptions } from './openai.ts';
export { createAnthropicProvider, type AnthropicProviderOptions } from './anthropic.ts';
export { classifyFailure, parseRateLimit, type Failure } from './failures.ts';
