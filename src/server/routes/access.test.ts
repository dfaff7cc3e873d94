import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type KeyName } from '../../../test/support/server-harness.ts';

/**
 * Every run and topology route, every role: who gets what. `ours` is acme's run of `echo`,
 * `hidden` acme's run of `secret` (the `narrow` key has no role on it), `theirs` globex's run.
 */
describe('access: every route, every role', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    for (const [key, topology, runId] of [['operator', 'echo', 'ours'], ['operator', 'secret', 'hidden'], ['globex', 'echo', 'theirs']] as const) {
      const r = await h.call(key, 'POST', '/v1/runs', { topology, input: { text: 'x' }, wait: true, runId });
      expect(r.status).toBe(200);
    }
  });
  afterAll(async () => { await h.close(); });

  type Row = readonly [method: 'GET' | 'POST', url: string, body: unknown, expected: Readonly<Record<KeyName, number>>];
  const read = (id: string, suffix: string): Row => ['GET', `/v1/runs/${id}${suffix}`, undefined,
    id === 'ours' ? { admin: 200, operator: 200, viewer: 200, narrow: 200, globex: 404 }
      : id === 'hidden' ? { admin: 200, operator: 200, viewer: 200, narrow: 404, globex: 404 }
        : { admin: 404, operator: 404, viewer: 404, narrow: 404, globex: 200 }];
  const ROWS: readonly Row[] = [
    ...['ours', 'hidden', 'theirs'].flatMap((id) => ['', '/events', '/state'].map((s) => read(id, s))),
    // a completed run: operators may try (409: not in flight / not waiting), viewers may not (403), others do not see it (404)
    ['POST', '/v1/runs/ours/cancel', undefined, { admin: 409, operator: 409, viewer: 403, narrow: 409, globex: 404 }],
    ['POST', '/v1/runs/hidden/cancel', undefined, { admin: 409, operator: 409, viewer: 403, narrow: 404, globex: 404 }],
    ['POST', '/v1/runs/ours/signals/go', { payload: 1 }, { admin: 409, operator: 409, viewer: 403, narrow: 409, globex: 404 }],
    ['POST', '/v1/runs/theirs/signals/go', { payload: 1 }, { admin: 404, operator: 404, viewer: 404, narrow: 404, globex: 409 }],
    ['POST', '/v1/runs/ours/fork', { from: 'out' }, { admin: 202, operator: 202, viewer: 403, narrow: 202, globex: 404 }],
    ['POST', '/v1/runs/hidden/fork', { from: 'out' }, { admin: 202, operator: 202, viewer: 403, narrow: 404, globex: 404 }],
    ['POST', '/v1/runs', { topology: 'echo', input: { text: 'a' } }, { admin: 202, operator: 202, viewer: 403, narrow: 202, globex: 202 }],
    ['POST', '/v1/runs', { topology: 'secret', input: { text: 'a' } }, { admin: 202, operator: 202, viewer: 403, narrow: 404, globex: 202 }],
    ['GET', '/v1/runs', undefined, { admin: 200, operator: 200, viewer: 200, narrow: 200, globex: 200 }],
    ['GET', '/v1/me', undefined, { admin: 200, operator: 200, viewer: 200, narrow: 200, globex: 200 }],
    ['GET', '/v1/topologies', undefined, { admin: 200, operator: 200, viewer: 200, narrow: 200, globex: 200 }],
    ['GET', '/v1/topologies/secret', undefined, { admin: 200, operator: 200, viewer: 200, narrow: 404, globex: 200 }],
  ];

  it('answers each key as its tenant and roles allow', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const [method, url, body, expected] of ROWS) {
      for (const [key, status] of Object.entries(expected) as [KeyName, number][]) {
        const r = await h.call(key, method, url, body);
        got.push(`${key} ${method} ${url} -> ${r.status}`);
        want.push(`${key} ${method} ${url} -> ${status}`);
        if (r.status >= 400) expect((r.body as { error?: { code?: unknown } }).error?.code, `${key} ${method} ${url}`).toEqual(expect.any(String));
      }
    }
    expect(got).toEqual(want);
  });

  it('answers 401 on every /v1 route without a key or with an unknown one', async () => {
    // one bad header per route, in turn (failed authentications from one address are rate-limited past 60 a minute)
    const bad: Record<string, string>[] = [{}, { authorization: 'Bearer llmo_not-a-key' }, { 'x-api-key': 'nope' }];
    for (const [k, [method, url, body]] of ROWS.entries()) {
      const r = await h.server.app.inject({ method, url, headers: bad[k % bad.length]!, ...(body === undefined ? {} : { payload: body as object }) });
      expect({ url, status: r.statusCode, code: (r.json() as { error: { code: string } }).error.code }).toEqual({ url, status: 401, code: 'UNAUTHORIZED' });
    }
  });

  it('a key given as x-api-key works like the bearer header', async () => {
    const r = await h.server.app.inject({ method: 'GET', url: '/v1/me', headers: { 'x-api-key': h.secrets.viewer } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ tenant: 'acme', name: 'viewer' });
  });
});
