/**
 * Structured output on APIs that need telling: OpenAI's JSON mode answers 400 unless a message
 * says "JSON", and Anthropic's Messages API has no JSON mode at all. Both get one system
 * instruction when the request asks for JSON and no message already mentions it.
 * @module
 */
import type { ChatMessage } from './types.ts';

/** The instruction added to a JSON request. */
export const JSON_INSTRUCTION = 'Respond with a single JSON object and nothing else.';

/**
 * The request's messages, with {@link JSON_INSTRUCTION} as a leading system message when
 * `json` is asked and no message mentions JSON.
 *
 * @example
 * ```ts
 * withJsonInstruction([{ role: 'user', content: 'List three colours' }], true)[0]; // { role: 'system', content: JSON_INSTRUCTION }
 * ```
 */
export function withJsonInstruction(messages: readonly ChatMessage[], json: boolean | undefined): readonly ChatMessage[] {
  if (json !== true || messages.some((m) => /json/i.test(m.content))) return messages;
  return [{ role: 'system', content: JSON_INSTRUCTION }, ...messages];
}
