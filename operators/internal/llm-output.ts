/**
 * What an llm node answers with: its output and tool-call types, and the helpers that turn a
 * model's final text into them (structured output validated with zod, tool-call arguments parsed
 * from JSON, the empty output of a call stopped before any token).
 * @module
 */
import type * as z from 'zod';
import { toIssues, ValidationError } from '../../src/errors.ts';
import type { ResolvedModel } from '../../src/providers/models.ts';
import type { FinishReason, Usage } from '../../src/providers/types.ts';

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

const FENCE = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/;

/**
 * Parses and validates structured output: the model's text (bare, or in a ```` ```json ```` fence) must be
 * JSON valid for `schema`, else a `LLM_OUTPUT_INVALID` ValidationError.
 *
 * @example
 * ```ts
 * parseStructured('{"n": 2}', z.object({ n: z.number() })); // { n: 2 }
 * ```
 */
export function parseStructured<T>(text: string, schema: z.ZodType<T>): T {
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

/**
 * A tool call's arguments parsed from their streamed JSON: `{}` when empty, the raw text when unparseable.
 *
 * @example
 * ```ts
 * parseToolArguments('{"city":"Oslo"}'); // { city: 'Oslo' }
 * parseToolArguments('{"city":');        // '{"city":'
 * ```
 */
export function parseToolArguments(raw: string): unknown {
  try {
    return raw === '' ? {} : JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * The output of a call stopped before any token (e.g. while it waited for its rate limit).
 *
 * @example
 * ```ts
 * stoppedEarly<undefined>(model).finishReason; // 'stopped'
 * ```
 */
export function stoppedEarly<T>(m: ResolvedModel): LlmOutput<T> {
  return {
    text: '', data: undefined as T, toolCalls: [], finishReason: 'stopped', costUsd: 0, model: m.ref, simulated: m.provider.simulated === true,
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, estimated: false },
  };
}
