/**
 * Credentials never leave in an error: the key and authorization headers of a provider are
 * replaced by `[redacted]` in every message of the errors its calls raise (and in their
 * causes), whatever quoted them (Node's header checks, a proxy echoing the key, a TLS library).
 * @module
 */
import { ProviderError, isProviderError } from '../errors.ts';

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key']);
/** Shorter values are not worth scrubbing (and would mangle ordinary text). */
const MIN_SECRET = 6;
const REDACTED = '[redacted]';

/**
 * The secret strings of a provider's configuration: its key, and the values of its
 * credential headers (with and without a `Bearer ` scheme).
 *
 * @example
 * ```ts
 * secretsOf('sk-abc123', { authorization: 'Bearer tok-456789' }); // ['sk-abc123', 'Bearer tok-456789', 'tok-456789']
 * ```
 */
export function secretsOf(apiKey: string | undefined, headers: Readonly<Record<string, string>> | undefined): string[] {
  const out = new Set<string>();
  if (apiKey !== undefined) out.add(apiKey);
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!SECRET_HEADERS.has(name.toLowerCase())) continue;
    out.add(value);
    const m = /^\s*\S+\s+(.+)$/.exec(value);
    if (m !== null) out.add(m[1]!);
  }
  return [...out].filter((s) => s.trim().length >= MIN_SECRET).sort((a, b) => b.length - a.length);
}

/**
 * `text` with every secret replaced by `[redacted]`.
 *
 * @example
 * ```ts
 * scrubText('Incorrect API key provided: sk-abc123', ['sk-abc123']); // 'Incorrect API key provided: [redacted]'
 * ```
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

function scrubCause(cause: unknown, secrets: readonly string[], depth: number): unknown {
  if (!(cause instanceof Error) || depth > 4) return cause;
  const inner = scrubCause(cause.cause, secrets, depth + 1);
  const message = scrubText(cause.message, secrets);
  if (message === cause.message && inner === cause.cause) return cause;
  const copy = new Error(message, inner === undefined ? undefined : { cause: inner });
  copy.name = cause.name;
  return copy;
}

/**
 * The same error with no secret in its message or its causes' (a copy when anything changed).
 *
 * @example
 * ```ts
 * subscriber.error(scrubError(e, secrets));
 * ```
 */
export function scrubError(e: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0 || !isProviderError(e)) return e;
  const prefix = `${e.provider}:${e.model}: `;
  const own = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  const message = scrubText(own, secrets);
  const cause = scrubCause(e.cause, secrets, 0);
  if (message === own && cause === e.cause) return e;
  return new ProviderError(e.code, message, e.retriable, {
    provider: e.provider, model: e.model,
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
    ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
    ...(cause === undefined ? {} : { cause }),
  });
}
