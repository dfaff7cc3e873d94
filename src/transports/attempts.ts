/**
 * Running a consumed message's handler under the consume contract: a handler
 * that rejects (or outlives `handlerTimeoutMs`) is tried again in place, with a
 * doubling, capped backoff, up to `maxAttempts` (not after a non-retriable
 * `OrchestratorError`); each failure is reported, and the last one says why the
 * message must be dead-lettered. Shared by the memory
 * and Kafka transports so both keep the same semantics.
 * @module
 */
import { isOrchestratorError, TimeoutError } from '../errors.ts';
import { sleep } from '../primitives/sleep.ts';
import type { ResolvedConsumeOptions } from './consume-options.ts';
import type { ConsumeHandler, Envelope } from './transport.ts';

/**
 * Most wait between two attempts, ms (unless `retryBackoffMs` itself is larger).
 *
 * @example
 * ```ts
 * backoffMs(200, 10) === RETRY_BACKOFF_CAP_MS; // 5000
 * ```
 */
export const RETRY_BACKOFF_CAP_MS = 5000;

/**
 * What became of a message's attempts: handled, or failed `attempts` times for `reason`.
 *
 * @example
 * ```ts
 * const o: AttemptsOutcome = await runAttempts(env, handler, options, onFailure);
 * if (!o.ok) await deadLetter(o.reason);
 * ```
 */
export type AttemptsOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * A thrown value as a short reason: `CODE: message` for engine errors, the message otherwise.
 *
 * @example
 * ```ts
 * reasonOf(new OrchestratorError('KAFKA_FAILED', 'broker gone')); // 'KAFKA_FAILED: broker gone'
 * ```
 */
export function reasonOf(e: unknown): string {
  if (isOrchestratorError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message === '' ? e.name : e.message;
  return String(e);
}

/**
 * The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`, capped.
 *
 * @example
 * ```ts
 * backoffMs(200, 1); // 200
 * backoffMs(200, 3); // 800
 * ```
 */
export function backoffMs(base: number, attempt: number): number {
  return Math.min(base * 2 ** (attempt - 1), Math.max(base, RETRY_BACKOFF_CAP_MS));
}

/** One attempt: the handler's promise, failed with a TimeoutError (and its signal aborted) after `timeoutMs`. */
async function attempt<T>(env: Envelope<T>, handler: ConsumeHandler<T>, n: number, timeoutMs: number | undefined): Promise<void> {
  const ctl = new AbortController();
  if (timeoutMs === undefined) return handler(env, { signal: ctl.signal, attempt: n });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new TimeoutError(`handler of ${env.partition}/${env.offset}`, timeoutMs);
      ctl.abort(e);
      reject(e);
    }, timeoutMs);
  });
  try {
    // a handler that ignores its signal runs on, but its attempt has failed
    return await Promise.race([Promise.resolve().then(() => handler(env, { signal: ctl.signal, attempt: n })), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `handler` for `env` until it resolves or `options.maxAttempts` attempts failed, waiting
 * {@link backoffMs} between attempts; `onFailure(attempt, reason)` is called after each failure.
 * A handler that rejects with a non-retriable `OrchestratorError` (`retriable: false`: the same work
 * cannot succeed) is not tried again: the outcome fails at once, its reason saying `not retriable`.
 * Never rejects: the outcome says how it ended.
 *
 * @example
 * ```ts
 * const o = await runAttempts(env, handler, options, (n, why) => emit({ type: 'handler.failed', attempt: n, reason: why }));
 * ```
 */
export async function runAttempts<T>(
  env: Envelope<T>,
  handler: ConsumeHandler<T>,
  options: Pick<ResolvedConsumeOptions, 'maxAttempts' | 'retryBackoffMs' | 'handlerTimeoutMs'>,
  onFailure: (attempt: number, reason: string) => void,
): Promise<AttemptsOutcome> {
  let reason = '';
  for (let n = 1; n <= options.maxAttempts; n++) {
    try {
      await attempt(env, handler, n, options.handlerTimeoutMs);
      return { ok: true };
    } catch (e) {
      reason = reasonOf(e);
      onFailure(n, reason);
      // repeating the same work cannot succeed: no more attempts, the message is dead-lettered now
      if (isOrchestratorError(e) && !e.retriable) return { ok: false, reason: `handler failed (not retriable): ${reason}` };
    }
    if (n < options.maxAttempts) await sleep(backoffMs(options.retryBackoffMs, n));
  }
  return { ok: false, reason: `handler failed ${options.maxAttempts} time${options.maxAttempts === 1 ? '' : 's'}: ${reason}` };
}
