/**
 * Signal messages for runs parked on a `wait` node: the signal, the event type of a refused signal,
 * the interim answer of a parked run, as TypeScript types mirroring the Avro schemas in `schemas/`,
 * plus a zod schema so inbound signals arrive validated.
 * @module
 */
import * as z from 'zod';
import type { RunResultMessage } from './run.ts';

/**
 * A signal for a run parked on a `wait` node: what `engine.signal(runId, name, payload)` does in
 * one process, as a message (topic `<prefix>.signals`, keyed by run id). A worker with a run store
 * consumes it, resumes the run and publishes the run's result under `requestId` (default: the run id,
 * which is the request id of a run a worker started). See `createWorker` and `client.signal`.
 *
 * @example
 * ```ts
 * await transport.send('signal', [{ key: runId, value: {
 *   signalId: randomUUID(), runId, name: 'approval', payload: JSON.stringify({ approved: true, by: 'ana' }), ts: Date.now(),
 * } }]);
 * ```
 */
export interface SignalMessage {
  /** Unique per signal; a signal sent again keeps its id. */
  readonly signalId: string;
  readonly runId: string;
  /** The wait's signal name. */
  readonly name: string;
  /** JSON text of the payload (validated by the wait node's zod schema when the run resumes). */
  readonly payload: string;
  /** When it was sent, epoch ms. */
  readonly ts: number;
  /** The request whose result the resumed run answers. Read: always set (null when omitted: the run id is used). */
  readonly requestId?: string | null;
  /** Read: always set (null when omitted). */
  readonly tenant?: string | null;
}

/**
 * Lifecycle event type a worker publishes (keyed by run id) when it refuses a signal message: an
 * unknown run, a payload the wait's schema refuses, another wait's name. `data` is JSON
 * `{ signalId, name, code, message, issues? }`; the signal goes to the dead-letter topic with the reason.
 *
 * @example
 * ```ts
 * if (event.type === SIGNAL_REJECTED) console.warn(JSON.parse(event.data).message);
 * ```
 */
export const SIGNAL_REJECTED = 'signal.rejected';

/**
 * Error code of the interim answer to a request whose run parked on a `wait` node: the result is
 * `failed` with this code (run-result v1 has no `waiting` status). The final result of the request
 * follows on the result topic once a signal resumed the run and it ended (see {@link isParkedResult}).
 *
 * @example
 * ```ts
 * if (JSON.parse(result.error ?? '{}').code === RUN_PARKED) console.log('waiting for a signal');
 * ```
 */
export const RUN_PARKED = 'RUN_PARKED';

/**
 * Whether a result is the interim answer of a parked run (failed with code {@link RUN_PARKED}),
 * not the request's final result.
 *
 * @example
 * ```ts
 * if (isParkedResult(result)) await client.signal(result.runId, 'approval', { approved: true, by: 'ana' });
 * ```
 */
export function isParkedResult(result: RunResultMessage): boolean {
  if (result.status !== 'failed' || result.error === null) return false;
  try {
    return (JSON.parse(result.error) as { code?: unknown } | null)?.code === RUN_PARKED;
  } catch {
    return false; // an error that is not JSON is not the worker's parked answer
  }
}

/**
 * Semantic checks of inbound signals beyond the Avro shape: ids and name set, `payload` JSON text
 * (whether it fits the wait node's schema is checked when the run resumes).
 *
 * @example
 * ```ts
 * SignalSchema.safeParse(signal).success;
 * ```
 */
export const SignalSchema = z.object({
  signalId: z.string().min(1),
  runId: z.string().min(1),
  name: z.string().min(1),
  payload: z.string().refine((v) => { try { JSON.parse(v); return true; } catch { return false; } }, 'must be JSON text'),
  ts: z.number().nonnegative(),
}).loose();
