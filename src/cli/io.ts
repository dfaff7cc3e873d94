/**
 * Where a CLI command writes, and the two ways it reports a problem: a list of
 * issues of a file, or one `llmo: ...` line.
 * @module
 */
import { formatIssues, type Issue } from '../errors.ts';
import { EXIT } from './exit.ts';

/**
 * The streams and environment a command uses; tests pass captured streams.
 *
 * @example
 * ```ts
 * const io: Io = { out: process.stdout, err: process.stderr, color: Boolean(process.stderr.isTTY) };
 * ```
 */
export interface Io {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly color: boolean;
  /** Environment to read model credentials and LOG_LEVEL from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Prints `<what> is invalid:` and each issue once, one per line; a single issue without a
 * path (a file that cannot be found or loaded) is one `llmo: ...` line. Returns {@link EXIT}.invalid.
 *
 * @example
 * ```ts
 * if (!loaded.ok) return reportIssues(io, file, loaded.issues);
 * ```
 */
export function reportIssues(io: Io, what: string, issues: readonly Issue[]): number {
  const only = issues.length === 1 ? issues[0]! : undefined;
  if (only !== undefined && only.path.length === 0) {
    io.err.write(`llmo: ${only.message.includes(what) ? '' : `${what}: `}${only.message}\n`);
  } else {
    io.err.write(`${what} is invalid:\n${formatIssues(issues)}\n`);
  }
  return EXIT.invalid;
}

/**
 * Prints one `llmo: <message>` line; returns `code` (default {@link EXIT}.invalid).
 *
 * @example
 * ```ts
 * return fail(io, '--input is not valid JSON: Unexpected token');
 * ```
 */
export function fail(io: Io, message: string, code: number = EXIT.invalid): number {
  io.err.write(`llmo: ${message}\n`);
  return code;
}
