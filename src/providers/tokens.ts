/**
 * Token counting with gpt-tokenizer (o200k), loaded on first use so engines that
 * never need a count never pay for the encoder. Used when a provider reports no
 * usage, and to estimate a request for tokens-per-minute limits.
 * @module
 */
import type { ChatMessage } from './types.ts';

let encoder: Promise<(text: string) => number> | undefined;

/** Loads the tokenizer once. */
function load(): Promise<(text: string) => number> {
  return (encoder ??= import('gpt-tokenizer').then((m) => (text: string) => m.countTokens(text)));
}

/**
 * Counts the tokens of a text.
 *
 * @example
 * ```ts
 * await countTextTokens('hello world'); // 2
 * ```
 */
export async function countTextTokens(text: string): Promise<number> {
  return (await load())(text);
}

/**
 * Counts the prompt tokens of chat messages (content plus a small per-message overhead, as the chat format adds).
 *
 * @example
 * ```ts
 * await countMessageTokens([{ role: 'user', content: 'Hi' }]);
 * ```
 */
export async function countMessageTokens(messages: readonly ChatMessage[]): Promise<number> {
  const count = await load();
  let n = 3;
  for (const m of messages) n += 4 + count(m.content);
  return n;
}
