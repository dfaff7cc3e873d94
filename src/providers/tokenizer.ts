/**
 * Exact token counts for OpenAI-family models (o200k_base BPE) through
 * gpt-tokenizer, an optional peer dependency (about 30 MB installed, 2 MB of
 * vocabulary loaded on import). Import this entry only when estimates are not
 * good enough (tight tokens-per-minute budgets, cost reports of servers that
 * return no usage).
 *
 * @example
 * ```ts
 * import { gptTokenCounter } from 'llm-orchestrator/tokenizer';
 * const models = createModels({ countTokens: gptTokenCounter });
 * ```
 * @module
 */
import { countTokens } from 'gpt-tokenizer';
import type { TokenCounter } from './tokens.ts';

/**
 * Counts o200k_base tokens (GPT-4o, GPT-4.1, o-series).
 *
 * @example
 * ```ts
 * gptTokenCounter('hello world'); // 2
 * ```
 */
export const gptTokenCounter: TokenCounter = (text) => countTokens(text);
