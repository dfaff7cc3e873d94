/**
 * What an operator reports to the runtime about its work, through its `ExecServices`: each
 * ended model call (`ModelCall`, a `model.call` event for telemetry) and each retry or
 * fallback (`NodeNote`, recorded in the run's history). Part of the topology data model (`types.ts`).
 * @module
 */
import type { CompletionRequest, FinishReason, Usage } from '../providers/types.ts';
import type { SerializedError } from '../errors.ts';

/**
 * One model call as an operator reports it (`ExecServices.modelCall`); the engine adds the run,
 * topology and node and puts it on the bus as a `model.call` event. `request` and `text` are
 * references, not copies: telemetry captures them only when asked to, redacted.
 *
 * @example
 * ```ts
 * if (services.observed) services.modelCall(ctx, { startTs, ts: Date.now(), provider: 'openai', model: 'openai:gpt-4o-mini', request, attempt: 1, costUsd: 0, text: '' });
 * ```
 */
export interface ModelCall {
  /** When the call started (after its rate-limit reservation), ms since the epoch. */
  readonly startTs: number;
  /** When the first token (text, tool call or refusal) arrived, if one did. */
  readonly firstTokenTs?: number;
  /** When it ended. */
  readonly ts: number;
  /** The provider's name (`openai`, `anthropic`, `sim`, or the name it was registered under). */
  readonly provider: string;
  /** The model reference of the chain (`openai:gpt-4o-mini`). */
  readonly model: string;
  /** The request (model name, messages, parameters) as sent. */
  readonly request: CompletionRequest;
  /** The model the provider says answered, and its response id, when it said. */
  readonly responseModel?: string;
  readonly responseId?: string;
  /** 1 for the first call of this model in the node, 2 for its first retry, ... */
  readonly attempt: number;
  /** Usage billed for the call (estimated when the provider sent no final count), when it started generating. */
  readonly usage?: Usage & { readonly estimated: boolean };
  readonly costUsd: number;
  /** How it finished; absent when it failed. */
  readonly finishReason?: FinishReason;
  /** Text it streamed. */
  readonly text: string;
  /** Why it failed (timeouts, provider errors, cancellation). */
  readonly error?: SerializedError;
}

/**
 * A retry or fallback recorded in a run's history.
 *
 * @example
 * ```ts
 * services.note(ctx, { type: 'fallback', from: 'openai:gpt-4o', to: 'sim:backup', reason: serializeError(e) });
 * ```
 */
export type NodeNote =
  | { readonly type: 'retry'; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError; readonly model?: string }
  | { readonly type: 'fallback'; readonly from: string; readonly to: string; readonly reason: SerializedError };
