/**
 * The failure table and header parsing: which HTTP statuses and provider codes
 * are retriable, OpenAI durations, both rate-limit header families, retry-after
 * in its forms, and the x-should-retry override.
 */
import { describe, expect, it } from 'vitest';
import { isProviderError } from '../errors.ts';
import {
  classifyFailure, httpError, parseDuration, parseErrorBody, parseRateLimit, streamError, transportError,
} from './failures.ts';

const SITE = { provider: 'p', model: 'm' };
const NOW = Date.parse('2030-01-01T00:00:00Z');

describe('classifyFailure', () => {
  it.each([
    [408, 'REQUEST_TIMEOUT'], [409, 'CONFLICT'], [429, 'RATE_LIMITED'], [500, 'SERVER_ERROR'],
    [502, 'UNAVAILABLE'], [503, 'UNAVAILABLE'], [504, 'UNAVAILABLE'], [529, 'OVERLOADED'],
  ])('%i is retriable (%s)', (status, code) => {
    expect(classifyFailure(status)).toEqual({ code, retriable: true });
  });

  it.each([599, 520, 501, 507])('any other 5xx (%i) is a retriable SERVER_ERROR', (status) => {
    expect(classifyFailure(status).retriable).toBe(true);
  });

  it.each([
    [400, 'BAD_REQUEST'], [401, 'AUTHENTICATION'], [403, 'PERMISSION_DENIED'], [404, 'NOT_FOUND'],
    [413, 'REQUEST_TOO_LARGE'], [422, 'UNPROCESSABLE'],
  ])('%i is not retriable (%s)', (status, code) => {
    expect(classifyFailure(status)).toEqual({ code, retriable: false });
  });

  it.each([405, 410, 415, 451])('any other 4xx (%i) is a non-retriable CLIENT_ERROR', (status) => {
    expect(classifyFailure(status)).toEqual({ code: 'CLIENT_ERROR', retriable: false });
  });

  it('context length and content filter codes win over the status and are not retriable', () => {
    expect(classifyFailure(400, 'context_length_exceeded')).toEqual({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false });
    expect(classifyFailure(400, 'content_filter')).toEqual({ code: 'CONTENT_FILTERED', retriable: false });
    expect(classifyFailure(400, 'content_policy_violation')).toEqual({ code: 'CONTENT_FILTERED', retriable: false });
    // even on a status that would be retriable
    expect(classifyFailure(500, 'context_length_exceeded')).toEqual({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false });
  });

  it('429 insufficient_quota (and billing limits) are not retriable; a plain 429 rate limit is', () => {
    expect(classifyFailure(429, 'insufficient_quota')).toEqual({ code: 'QUOTA_EXHAUSTED', retriable: false });
    expect(classifyFailure(429, 'billing_hard_limit_reached')).toEqual({ code: 'QUOTA_EXHAUSTED', retriable: false });
    expect(classifyFailure(429, 'rate_limit_exceeded')).toEqual({ code: 'RATE_LIMITED', retriable: true });
    expect(classifyFailure(429, 'rate_limit_error')).toEqual({ code: 'RATE_LIMITED', retriable: true });
  });

  it('a retriable provider code keeps the status-specific code', () => {
    expect(classifyFailure(529, 'overloaded_error')).toEqual({ code: 'OVERLOADED', retriable: true });
    expect(classifyFailure(500, 'api_error')).toEqual({ code: 'SERVER_ERROR', retriable: true });
    expect(classifyFailure(503, 'server_error')).toEqual({ code: 'UNAVAILABLE', retriable: true });
  });

  it('without a status (inside a stream) the provider code decides', () => {
    expect(classifyFailure(undefined, 'overloaded_error')).toEqual({ code: 'OVERLOADED', retriable: true });
    expect(classifyFailure(200, 'rate_limit_exceeded')).toEqual({ code: 'RATE_LIMITED', retriable: true });
    expect(classifyFailure(undefined)).toEqual({ code: 'PROVIDER_ERROR', retriable: false });
  });
});

describe('parseDuration', () => {
  it.each([
    ['6m0s', 360_000], ['1.5s', 1500], ['12ms', 12], ['1h2m3s', 3_723_000], ['0s', 0], ['20ms', 20], ['2m30.5s', 150_500], ['7.66s', 7660],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 6);
  });

  it('is undefined for text without a unit', () => {
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});

describe('parseRateLimit', () => {
  it('reads the OpenAI x-ratelimit-* family', () => {
    const h = new Headers({
      'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '9998', 'x-ratelimit-reset-requests': '12ms',
      'x-ratelimit-limit-tokens': '200000', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(parseRateLimit(h, NOW)).toEqual({ remainingRequests: 9998, remainingTokens: 0, resetRequestsMs: 12, resetTokensMs: 360_000 });
  });

  it('reads the anthropic-ratelimit-* family with RFC 3339 resets', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2030-01-01T00:00:30Z',
      'anthropic-ratelimit-tokens-limit': '40000', 'anthropic-ratelimit-tokens-remaining': '1200',
      'anthropic-ratelimit-tokens-reset': '2030-01-01T00:01:00Z',
    });
    expect(parseRateLimit(h, NOW)).toEqual({ remainingRequests: 0, remainingTokens: 1200, resetRequestsMs: 30_000, resetTokensMs: 60_000 });
  });

  it('falls back to anthropic output-token headers when there is no combined tokens header', () => {
    const h = new Headers({
      'anthropic-ratelimit-output-tokens-remaining': '5', 'anthropic-ratelimit-output-tokens-reset': '2030-01-01T00:00:05Z',
    });
    expect(parseRateLimit(h, NOW)).toEqual({ remainingTokens: 5, resetTokensMs: 5000 });
  });

  it('a reset in the past is 0 ms', () => {
    expect(parseRateLimit(new Headers({ 'anthropic-ratelimit-requests-reset': '2029-12-31T23:59:00Z' }), NOW)).toEqual({ resetRequestsMs: 0 });
  });

  it('retry-after in seconds, as an HTTP date, and retry-after-ms (which wins)', () => {
    expect(parseRateLimit(new Headers({ 'retry-after': '20' }), NOW)).toEqual({ retryAfterMs: 20_000 });
    expect(parseRateLimit(new Headers({ 'retry-after': '0.5' }), NOW)).toEqual({ retryAfterMs: 500 });
    expect(parseRateLimit(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:07 GMT' }), NOW)).toEqual({ retryAfterMs: 7000 });
    expect(parseRateLimit(new Headers({ 'retry-after': '20', 'retry-after-ms': '150' }), NOW)).toEqual({ retryAfterMs: 150 });
  });

  it('a plain number of seconds as a reset is seconds (not a date)', () => {
    expect(parseRateLimit(new Headers({ 'x-ratelimit-reset-requests': '30' }), NOW)).toEqual({ resetRequestsMs: 30_000 }); // passes today
    expect(parseRateLimit(new Headers({ 'x-ratelimit-reset-requests': '60', 'x-ratelimit-reset-tokens': '1' }), NOW))
      .toEqual({ resetRequestsMs: 60_000, resetTokensMs: 1000 }); // today: { resetRequestsMs: 0, resetTokensMs: 0 }
  });

  it('nothing for no headers, and garbage is ignored', () => {
    expect(parseRateLimit(new Headers(), NOW)).toEqual({});
    expect(parseRateLimit(new Headers({ 'x-ratelimit-remaining-requests': 'lots', 'retry-after': 'later' }), NOW)).toEqual({});
  });
});

describe('httpError', () => {
  it('builds a ProviderError with status, retryAfterMs and request id', () => {
    const e = httpError(429, JSON.stringify({ error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } }),
      new Headers({ 'retry-after': '2', 'x-request-id': 'req_1' }), SITE);
    expect(isProviderError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 2000, requestId: 'req_1', provider: 'p', model: 'm' });
    expect(e.message).toContain('slow down');
  });

  it('x-should-retry overrides the table both ways', () => {
    const body = JSON.stringify({ error: { message: 'x', type: 'server_error', code: null } });
    expect(httpError(500, body, new Headers({ 'x-should-retry': 'false' }), SITE)).toMatchObject({ code: 'SERVER_ERROR', retriable: false });
    expect(httpError(400, '{}', new Headers({ 'x-should-retry': 'true' }), SITE)).toMatchObject({ code: 'BAD_REQUEST', retriable: true });
    expect(httpError(429, JSON.stringify({ error: { message: 'q', type: 'insufficient_quota', code: 'insufficient_quota' } }), new Headers({ 'x-should-retry': 'true' }), SITE))
      .toMatchObject({ code: 'QUOTA_EXHAUSTED', retriable: true });
    // any other value is ignored
    expect(httpError(500, '', new Headers({ 'x-should-retry': 'maybe' }), SITE)).toMatchObject({ retriable: true });
  });

  it('reads the Anthropic body shape and request-id', () => {
    const e = httpError(529, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), new Headers({ 'request-id': 'req_a' }), SITE);
    expect(e).toMatchObject({ code: 'OVERLOADED', retriable: true, status: 529, requestId: 'req_a' });
  });
});

describe('parseErrorBody', () => {
  it('OpenAI shape: code wins over type', () => {
    expect(parseErrorBody('{"error":{"message":"m","type":"invalid_request_error","code":"context_length_exceeded"}}'))
      .toEqual({ message: 'm', code: 'context_length_exceeded' });
  });
  it('Anthropic shape: error.type', () => {
    expect(parseErrorBody('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')).toEqual({ message: 'Overloaded', code: 'overloaded_error' });
  });
  it('a string error, a top-level message, and non-JSON text', () => {
    expect(parseErrorBody('{"error":"boom"}')).toEqual({ message: 'boom' });
    expect(parseErrorBody('{"message":"nope"}')).toEqual({ message: 'nope' });
    expect(parseErrorBody('<html>502</html>')).toEqual({ message: '<html>502</html>' });
    expect(parseErrorBody('')).toEqual({ message: 'no error body' });
  });
});

describe('streamError and transportError', () => {
  it('an unknown in-stream error is a retriable PROVIDER_ERROR; a vLLM numeric code is used as the status', () => {
    expect(streamError({ error: { message: 'weird' } }, SITE)).toMatchObject({ code: 'PROVIDER_ERROR', retriable: true, status: 200 });
    expect(streamError({ error: { message: 'oom', code: 500 } }, SITE)).toMatchObject({ code: 'SERVER_ERROR', retriable: true });
    expect(streamError({ error: { message: 'bad', code: 400 } }, SITE)).toMatchObject({ code: 'BAD_REQUEST', retriable: false });
    expect(streamError({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, SITE)).toMatchObject({ code: 'OVERLOADED', retriable: true });
  });

  it('a network fault before the response is CONNECTION, during the stream STREAM_INTERRUPTED; both retriable and keep the cause', () => {
    const cause = new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
    const before = transportError(cause, SITE, false);
    expect(before).toMatchObject({ code: 'CONNECTION', retriable: true });
    expect(before.message).toContain('ECONNREFUSED');
    expect(before.cause).toBe(cause);
    expect(transportError(new Error('terminated'), SITE, true)).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
  });
});
