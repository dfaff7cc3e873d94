// Authentication and rate limits: keys in either header, 401 bodies for no, unknown and revoked keys,
// 503 when the key store fails, keys created or revoked on the file by another process taking effect
// in a running server, per-key limits (429 RATE_LIMITED with retry-after, other keys unaffected), and
// the per-address limit on failed authentications that keeps floods off the key store.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bearer, harness, type Harness } from '../../test/server/keys-harness.ts';
import type { KeyStore } from './access.ts';
import { FAILED_AUTH_LIMIT, keyOf } from './auth.ts';
import { createFileKeyStore } from './keys/file.ts';
import { createMemoryKeyStore } from './keys/memory.ts';

let h: Harness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

describe('authentication', () => {
  it('accepts a key as a bearer token or x-api-key, and answers 401 with an error body otherwise', async () => {
    h = await harness();
    const admin = await h.key('acme', { '*': 'admin' });
    const app = h.server.app;
    expect((await app.inject({ url: '/v1/keys', headers: bearer(admin) })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/keys', headers: { authorization: `bearer ${admin}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/keys', headers: { 'x-api-key': admin } })).statusCode).toBe(200);
    const none = await app.inject({ url: '/v1/keys' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') } });
    const wrong = await app.inject({ url: '/v1/keys', headers: bearer(`${admin}x`) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'the API key is unknown or revoked' } });
    expect((await app.inject({ url: '/v1/keys', headers: { authorization: 'Basic abc' } })).statusCode).toBe(401);
    // an unknown /v1 path is not a way to probe without a key
    expect((await app.inject({ url: '/v1/nothing' })).statusCode).toBe(401);
  });

  it('reads the key from either header', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as never;
    expect(keyOf(req({ authorization: 'Bearer  k1 ' }))).toBe('k1');
    expect(keyOf(req({ 'x-api-key': 'k2' }))).toBe('k2');
    expect(keyOf(req({ authorization: 'Bearer ' }))).toBeUndefined();
    expect(keyOf(req({}))).toBeUndefined();
  });

  it('stops a revoked key at its next request', async () => {
    h = await harness();
    const created = await h.keys.create({ tenant: 'acme', roles: { '*': 'admin' } });
    expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(created.secret) })).statusCode).toBe(200);
    await h.keys.revoke(created.keyId);
    const r = await h.server.app.inject({ url: '/v1/keys', headers: bearer(created.secret) });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('UNAUTHORIZED');
  });

  it('answers 503 KEYS_UNAVAILABLE when the key store fails, and keeps serving', async () => {
    const inner = createMemoryKeyStore();
    let broken = true;
    const flaky: KeyStore = { ...inner, location: 'flaky', verify: async (s) => { if (broken) throw new Error('disk gone'); return inner.verify(s); } };
    h = await harness({}, flaky);
    const admin = await h.key('acme', { '*': 'admin' });
    const r = await h.server.app.inject({ url: '/v1/keys', headers: bearer(admin) });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ error: { code: 'KEYS_UNAVAILABLE', message: expect.stringContaining('flaky') } });
    broken = false;
    expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(admin) })).statusCode).toBe(200);
  });

  it('takes keys created and revoked on its key file by another process without a restart', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'llmo-auth-')), 'keys.json');
    h = await harness({}, createFileKeyStore(path));
    const cli = createFileKeyStore(path);
    const k = await cli.create({ tenant: 'acme', roles: { '*': 'admin' } });
    expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(k.secret) })).statusCode).toBe(200);
    await cli.revoke(k.keyId);
    expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(k.secret) })).statusCode).toBe(401);
    await cli.close();
  });

  it('the public paths need no key', async () => {
    h = await harness();
    const r = await h.server.app.inject({ url: '/openapi.json' });
    expect(r.statusCode).not.toBe(401);
  });
});

describe('rate limits', () => {
  it('limits requests per key: 429 RATE_LIMITED with retry-after past the limit, other keys unaffected', async () => {
    h = await harness({ rateLimit: { max: 3, windowMs: 60_000 } });
    const a = await h.key('acme', { '*': 'admin' });
    const b = await h.key('acme', { '*': 'admin' });
    for (let i = 0; i < 3; i++) expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(a) })).statusCode).toBe(200);
    const over = await h.server.app.inject({ url: '/v1/keys', headers: bearer(a) });
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('at most 3 per 60 s') } });
    // the limit is the key's, not the address's
    expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(b) })).statusCode).toBe(200);
    // a request the body check refuses still counts: the limit runs before validation
    const bad = await h.server.app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(a), payload: { roles: 'x' } });
    expect(bad.statusCode).toBe(429);
  });

  it('starts a fresh window when the last one ends', async () => {
    // only Date is faked: the limiter's windows follow it, fastify's own timers stay real
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    try {
      h = await harness({ rateLimit: { max: 1, windowMs: 1_000 } });
      const a = await h.key('acme', { '*': 'admin' });
      expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(a) })).statusCode).toBe(200);
      expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(a) })).statusCode).toBe(429);
      vi.setSystemTime(1_001_000);
      expect((await h.server.app.inject({ url: '/v1/keys', headers: bearer(a) })).statusCode).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it('limits failed authentications per address: past the limit 429, even with a good key, other addresses unaffected', async () => {
    h = await harness();
    const admin = await h.key('acme', { '*': 'admin' });
    const from = (remoteAddress: string, headers: Record<string, string> = {}) => h!.server.app.inject({ url: '/v1/keys', headers, remoteAddress });
    for (let i = 0; i < FAILED_AUTH_LIMIT.max; i++) {
      expect((await from('10.1.1.1', i % 2 === 0 ? {} : bearer('llmo_guess'))).statusCode).toBe(401);
    }
    const flood = await from('10.1.1.1', bearer('llmo_guess'));
    expect(flood.statusCode).toBe(429);
    expect(Number(flood.headers['retry-after'])).toBeGreaterThan(0);
    expect(flood.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('failed authentications') } });
    expect((await from('10.1.1.1', bearer(admin))).statusCode).toBe(429);
    expect((await from('10.2.2.2', bearer(admin))).statusCode).toBe(200);
    // good keys do not count against an address
    for (let i = 0; i < FAILED_AUTH_LIMIT.max + 5; i++) expect((await from('10.3.3.3', bearer(admin))).statusCode).toBe(200);
  });

  it('takes its failed-authentication limit from the options, and counts clients behind a trusted proxy apart', async () => {
    h = await harness({ failedAuthLimit: { max: 3, windowMs: 60_000 }, trustProxy: ['10.9.0.0/16'] });
    const admin = await h.key('acme', { '*': 'admin' });
    const via = (client: string, headers: Record<string, string> = {}) => h!.server.app.inject({ url: '/v1/keys', headers: { ...headers, 'x-forwarded-for': client }, remoteAddress: '10.9.0.1' });
    for (let i = 0; i < 3; i++) expect((await via('203.0.113.7')).statusCode).toBe(401);
    const flood = await via('203.0.113.7');
    expect(flood.statusCode).toBe(429);
    expect(flood.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('at most 3 per 60 s') } });
    // another client through the same balancer is not locked out by the first
    expect((await via('198.51.100.2', bearer(admin))).statusCode).toBe(200);
    // an untrusted peer's X-Forwarded-For is ignored: it counts as itself
    const direct = (headers: Record<string, string> = {}) => h!.server.app.inject({ url: '/v1/keys', headers: { ...headers, 'x-forwarded-for': '198.51.100.99' }, remoteAddress: '192.0.2.5' });
    for (let i = 0; i < 3; i++) expect((await direct()).statusCode).toBe(401);
    expect((await direct(bearer(admin))).statusCode).toBe(429);
    expect((await via('198.51.100.99', bearer(admin))).statusCode).toBe(200);
  });
});
