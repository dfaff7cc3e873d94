/**
 * The one table that maps provider and HTTP failures to `{ code, retriable }`,
 * and the helpers that turn responses, in-stream errors and network faults into
 * ProviderErrors through it.
 * @module
 */
import { ProviderError } from '../errors.ts';
import type { RateLimitInfo } from './types.ts';

/** A classified failure. */
export interface Failure {
  readonly code: string;
  readonly retriable: boolean;
}

/** HTTP status to failure; provider error codes refine it in {@link classifyFailure}. */
export const STATUS_TABLE: Readonly<Record<number, Failure>> = {
  400: { code: 'BAD_REQUEST', retriable: false },
  401: { code: 'AUTHENTICATION', retriable: false },
  403: { code: 'PERMISSION_DENIED', retriable: false },
  404: { code: 'NOT_FOUND', retriable: false },
  408: { code: 'REQUEST_TIMEOUT', retriable: true },
  409: { code: 'CONFLICT', retriable: true },
  413: { code: 'REQUEST_TOO_LARGE', retriable: false },
  422: { code: 'UNPROCESSABLE', retriable: false },
  429: { code: 'RATE_LIMITED', retriable: true },
  500: { code: 'SERVER_ERROR', retriable: true },
  502: { code: 'UNAVAILABLE', retriable: true },
  503: { code: 'UNAVAILABLE', retriable: true },
  504: { code: 'UNAVAILABLE', retriable: true },
  529: { code: 'OVERLOADED', retriable: true },
};

/** Provider error codes and types that override the status (OpenAI `code`, Anthropic `error.type`). */
export const CODE_TABLE: Readonly<Record<string, Failure>> = {
  context_length_exceeded: { code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false },
  content_filter: { code: 'CONTENT_FILTERED', retriable: false },
  content_policy_violation: { code: 'CONTENT_FILTERED', retriable: false },
  insufficient_quota: { code: 'QUOTA_EXHAUSTED', retriable: false },
  billing_hard_limit_reached: { code: 'QUOTA_EXHAUSTED', retriable: false },
  rate_limit_exceeded: { code: 'RATE_LIMITED', retriable: true },
  rate_limit_error: { code: 'RATE_LIMITED', retriable: true },
  overloaded_error: { code: 'OVERLOADED', retriable: true },
  api_error: { code: 'SERVER_ERROR', retriable: true },
  server_error: { code: 'SERVER_ERROR', retriable: true },
  invalid_request_error: { code: 'BAD_REQUEST', retriable: false },
  authentication_error: { code: 'AUTHENTICATION', retriable: false },
  permission_error: { code: 'PERMISSION_DENIED', retriable: false },
  not_found_error: { code: 'NOT_FOUND', retriable: false },
  request_too_large: { code: 'REQUEST_TOO_LARGE', retriable: false },
};

const SPECIFIC = new Set(['CONTEXT_LENGTH_EXCEEDED', 'CONTENT_FILTERED', 'QUOTA_EXHAUSTED']);

/** Failures that are not HTTP responses. */
export const CONNECTION: Failure = { code: 'CONNECTION', retriable: true };
export const STREAM_INTERRUPTED: Failure = { code: 'STREAM_INTERRUPTED', retriable: true };
export const BAD_STREAM: Failure = { code: 'BAD_STREAM', retriable: false };
/** A request the HTTP client refused to send (an invalid header value or URL): configuration, not a fault. */
export const REQUEST_INVALID: Failure = { code: 'REQUEST_INVALID', retriable: false };

/**
 * Classifies a failure from its HTTP status (if any) and the provider's error code or type.
 * Context-length and content-filter codes win over the status; a 429 whose code says the
 * quota is exhausted is not retriable.
 *
 * @example
 * ```ts
 * classifyFailure(429, 'insufficient_quota'); // { code: 'QUOTA_EXHAUSTED', retriable: false }
 * ```
 */
export function classifyFailure(status: number | undefined, providerCode?: string): Failure {
  const byCode = providerCode === undefined ? undefined : CODE_TABLE[providerCode];
  // Codes that name the request's own problem (context length, content filter, quota) always win; a generic
  // error type only refines a 4xx or an in-stream error: a 5xx stays a server failure whatever its body says.
  if (byCode !== undefined && (SPECIFIC.has(byCode.code) || status === undefined || status < 500)) return byCode;
  if (status !== undefined && STATUS_TABLE[status] !== undefined) return STATUS_TABLE[status];
  if (byCode !== undefined) return byCode;
  if (status !== undefined && status >= 500) return { code: 'SERVER_ERROR', retriable: true };
  if (status !== undefined && status >= 400) return { code: 'CLIENT_ERROR', retriable: false };
  return { code: 'PROVIDER_ERROR', retriable: false };
}

/** Where an error happened, for its message. */
export interface CallSite {
  readonly provider: string;
  readonly model: string;
}

/**
 * Error messages that mean the request did not fit the model's context, whatever code or type
 * a provider or proxy put beside them (OpenAI's exact `context_length_exceeded` is not always there:
 * LiteLLM sends `{"type":"invalid_request_error","code":"400"}`, Anthropic says "prompt is too long").
 */
const CONTEXT_LENGTH_MESSAGE = /context[_ ]length|maximum context|context window|prompt is too long|too many (?:input )?tokens|reduce the length of the (?:messages|prompt)|input is too long/i;

/**
 * The provider code an error is classified by: its `code` when the table knows it, else what its
 * message says (context length), else the raw code (an unknown code leaves the HTTP status in
 * charge), else its `type`.
 *
 * @example
 * ```ts
 * providerCodeOf({ code: '400', type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' }); // 'context_length_exceeded'
 * ```
 */
export function providerCodeOf(e: { readonly code?: string | undefined; readonly type?: string | undefined; readonly message: string }): string | undefined {
  if (e.code !== undefined && CODE_TABLE[e.code] !== undefined) return e.code;
  if (CONTEXT_LENGTH_MESSAGE.test(e.message)) return 'context_length_exceeded';
  return e.code ?? e.type;
}

/**
 * Parses an error body of either API (`{ error: { message, type, code } }` or `{ type: 'error', error: {...} }`)
 * into its message and the provider code it is classified by ({@link providerCodeOf}).
 *
 * @example
 * ```ts
 * parseErrorBody('{"error":{"message":"prompt is too long","type":"invalid_request_error"}}'); // { message, code: 'context_length_exceeded' }
 * ```
 */
export function parseErrorBody(text: string): { message: string; code?: string } {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } | string; message?: unknown };
    const e = j.error;
    if (typeof e === 'string') return withCode({ message: e });
    if (e && typeof e === 'object') {
      const message = typeof e.message === 'string' ? e.message : JSON.stringify(e);
      return withCode({ message, ...(typeof e.code === 'string' ? { code: e.code } : {}), ...(typeof e.type === 'string' ? { type: e.type } : {}) });
    }
    if (typeof j.message === 'string') return withCode({ message: j.message });
  } catch {
    // not JSON: use the text
  }
  return withCode({ message: text.slice(0, 500) || 'no error body' });
}

function withCode(e: { message: string; code?: string; type?: string }): { message: string; code?: string } {
  const code = providerCodeOf(e);
  return code === undefined ? { message: e.message } : { message: e.message, code };
}

/** Builds the ProviderError for a non-2xx response. */
export function httpError(status: number, body: string, headers: Headers, site: CallSite): ProviderError {
  const { message, code } = parseErrorBody(body);
  let f = classifyFailure(status, code);
  const should = headers.get('x-should-retry');
  if (should === 'true' || should === 'false') f = { code: f.code, retriable: should === 'true' };
  const rate = parseRateLimit(headers);
  const requestId = headers.get('x-request-id') ?? headers.get('request-id') ?? undefined;
  return new ProviderError(f.code, `HTTP ${status}: ${message}`, f.retriable, {
    ...site, status,
    ...(rate.retryAfterMs === undefined ? {} : { retryAfterMs: rate.retryAfterMs }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/** Builds the ProviderError for an error reported inside a 200 stream. */
export function streamError(payload: unknown, site: CallSite): ProviderError {
  const e = (payload as { error?: { message?: unknown; type?: unknown; code?: unknown } } | undefined)?.error ?? {};
  const codeStr = providerCodeOf({
    ...(typeof e.code === 'string' ? { code: e.code } : {}), ...(typeof e.type === 'string' ? { type: e.type } : {}), message: typeof e.message === 'string' ? e.message : '',
  });
  const status = typeof e.code === 'number' ? e.code : undefined; // vLLM puts the HTTP status in `code`
  const f = classifyFailure(status ?? 200, codeStr);
  const known = codeStr !== undefined && CODE_TABLE[codeStr] !== undefined;
  const failure = known || status !== undefined ? f : { code: 'PROVIDER_ERROR', retriable: true };
  const message = typeof e.message === 'string' ? e.message : JSON.stringify(payload);
  return new ProviderError(failure.code, `error inside the stream: ${message}`, failure.retriable, { ...site, status: 200 });
}

/** Builds the ProviderError for a network fault or a cut stream. */
export function transportError(cause: unknown, site: CallSite, midStream: boolean): ProviderError {
  const f = midStream ? STREAM_INTERRUPTED : CONNECTION;
  const detail = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? ` (${cause.cause.message})` : ''}` : String(cause);
  return new ProviderError(f.code, midStream ? `stream interrupted: ${detail}` : `connection failed: ${detail}`, f.retriable, { ...site, cause });
}

/** Parses OpenAI durations like `6m0s`, `1.5s`, `12ms` into ms. */
export function parseDuration(v: string): number | undefined {
  let total = 0;
  let matched = false;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    matched = true;
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return matched ? total : undefined;
}

function num(h: Headers, name: string): number | undefined {
  const v = h.get(name);
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function resetMs(h: Headers, name: string, now: number): number | undefined {
  const v = h.get(name);
  if (v === null) return undefined;
  const trimmed = v.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000; // plain seconds
  const d = parseDuration(trimmed);
  if (d !== undefined && /[a-z]$/.test(trimmed)) return d; // 6m0s, 12ms
  const t = Date.parse(trimmed); // RFC 3339 (Anthropic)
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/**
 * Reads rate-limit headers of both APIs (`x-ratelimit-*`, `anthropic-ratelimit-*`,
 * `retry-after`, `retry-after-ms`).
 *
 * @example
 * ```ts
 * parseRateLimit(response.headers).retryAfterMs;
 * ```
 */
export function parseRateLimit(h: Headers, now = Date.now()): RateLimitInfo {
  const out: { -readonly [K in keyof RateLimitInfo]: RateLimitInfo[K] } = {};
  const remReq = num(h, 'x-ratelimit-remaining-requests') ?? num(h, 'anthropic-ratelimit-requests-remaining');
  const remTok = num(h, 'x-ratelimit-remaining-tokens') ?? num(h, 'anthropic-ratelimit-tokens-remaining')
    ?? num(h, 'anthropic-ratelimit-output-tokens-remaining');
  const resetReq = resetMs(h, 'x-ratelimit-reset-requests', now) ?? resetMs(h, 'anthropic-ratelimit-requests-reset', now);
  const resetTok = resetMs(h, 'x-ratelimit-reset-tokens', now) ?? resetMs(h, 'anthropic-ratelimit-tokens-reset', now)
    ?? resetMs(h, 'anthropic-ratelimit-output-tokens-reset', now);
  const ms = num(h, 'retry-after-ms');
  const ra = h.get('retry-after');
  let retry = ms;
  if (retry === undefined && ra !== null) {
    const secs = Number(ra);
    retry = Number.isFinite(secs) ? secs * 1000 : Number.isFinite(Date.parse(ra)) ? Math.max(0, Date.parse(ra) - now) : undefined;
  }
  if (remReq !== undefined) out.remainingRequests = remReq;
  if (remTok !== undefined) out.remainingTokens = remTok;
  if (resetReq !== undefined) out.resetRequestsMs = resetReq;
  if (resetTok !== undefined) out.resetTokensMs = resetTok;
  if (retry !== undefined) out.retryAfterMs = retry;
  return out;
}
