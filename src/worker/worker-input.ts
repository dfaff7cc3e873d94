/**
 * The input of a run request, as a worker reads it before running anything:
 * JSON text of at most `maxInputBytes` UTF-8 bytes. A request whose input is
 * too large or not JSON is answered with a failed result (`INPUT_TOO_LARGE`,
 * `INPUT_INVALID`) and no run.
 * @module
 */
import { Buffer } from 'node:buffer';

/**
 * A request input read by {@link readInput}: its parsed value, or the code and message of the failed
 * result that answers the request instead.
 *
 * @example
 * ```ts
 * const read: RequestInput = { ok: false, code: 'INPUT_INVALID', message: 'input is not JSON: ...' };
 * ```
 */
export type RequestInput =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: 'INPUT_TOO_LARGE' | 'INPUT_INVALID'; readonly message: string };

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/**
 * Reads a request's input (JSON text): its value, or why it cannot be run (over `maxInputBytes`
 * UTF-8 bytes: `INPUT_TOO_LARGE`, checked first; not JSON: `INPUT_INVALID`).
 *
 * @example
 * ```ts
 * const read = readInput(req.input, 1024 * 1024);
 * const result = read.ok ? await run(read.value) : failedResult(req, workerId, read.code, read.message);
 * ```
 */
export function readInput(text: string, maxInputBytes: number): RequestInput {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxInputBytes) {
    return { ok: false, code: 'INPUT_TOO_LARGE', message: `input is ${size} bytes, over the limit of ${maxInputBytes} bytes (maxInputBytes)` };
  }
  const parsed = parseJson(text);
  return parsed.ok ? parsed : { ok: false, code: 'INPUT_INVALID', message: `input is not JSON: ${parsed.reason}` };
}
