import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../test/support/server-harness.ts';

describe('CORS (corsOrigins)', () => {
  let h: Harness;
  afterEach(async () => { await h.close(); });
  const preflight = (origin: string, url = '/v1/runs') => h.server.app.inject({
    method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

  it('answers a preflight from an allowed origin without a key, and marks the answers it is allowed to read', async () => {
    h = await createHarness({ corsOrigins: ['https://app.example.com'] });
    const pre = await preflight('https://app.example.com');
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers'])).toContain('authorization');
    const get = await h.server.app.inject({ url: '/v1/runs', headers: { origin: 'https://app.example.com', authorization: `Bearer ${h.secrets.viewer}` } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBe('https://app.example.com');
    // without a key the answer is still 401, and readable by the page (so it can say why)
    const unauthorized = await h.server.app.inject({ url: '/v1/runs', headers: { origin: 'https://app.example.com' } });
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('gives another origin no CORS headers', async () => {
    h = await createHarness({ corsOrigins: ['https://app.example.com'] });
    const get = await h.server.app.inject({ url: '/v1/runs', headers: { origin: 'https://evil.example', authorization: `Bearer ${h.secrets.viewer}` } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('off by default: no CORS headers; OPTIONS is a method the API does not answer', async () => {
    h = await createHarness();
    const pre = await preflight('https://app.example.com');
    expect(pre.statusCode).toBe(401); // a /v1 path asked without a key, as any other method
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const keyed = await h.server.app.inject({ method: 'OPTIONS', url: '/v1/runs', headers: { origin: 'https://app.example.com', authorization: `Bearer ${h.secrets.viewer}` } });
    expect(keyed.statusCode).toBe(405);
    expect(keyed.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with CORS on, a path no route has is still 404 and a known one 405 for a method it does not answer', async () => {
    h = await createHarness({ corsOrigins: ['*'] });
    const unknown = await h.server.app.inject({ method: 'DELETE', url: '/v1/runs/r-1/nothing', headers: { authorization: `Bearer ${h.secrets.operator}` } });
    expect(unknown.statusCode).toBe(404);
    const put = await h.server.app.inject({ method: 'PUT', url: '/healthz' });
    expect(put.statusCode).toBe(405);
    expect(put.headers['allow']).toBe('GET, HEAD');
    expect((await preflight('https://any.example')).headers['access-control-allow-origin']).toBe('*');
  });

  it('refuses an origin with a path, naming the option', async () => {
    await expect(createHarness({ corsOrigins: ['https://app.example.com/ui'] })).rejects.toThrow(/corsOrigins/);
    h = await createHarness();
  });
});
