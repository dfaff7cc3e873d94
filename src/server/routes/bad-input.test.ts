import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../../test/support/server-harness.ts';

describe('bad input', () => {
  let h: Harness;
  afterEach(async () => { await h.close(); });

  const raw = async (url: string, payload: string, headers: Record<string, string> = {}, method: 'POST' | 'GET' | 'DELETE' | 'PUT' = 'POST') => {
    const r = await h.server.app.inject({ method, url, payload, headers: { authorization: `Bearer ${h.secrets.operator}`, 'content-type': 'application/json', ...headers } });
    return { status: r.statusCode, type: String(r.headers['content-type']), body: JSON.parse(r.body) as { error: { code: string; message: string; issues?: { path: (string | number)[] }[] } } };
  };
  const stillServes = async (): Promise<void> => {
    const r = await h.call('operator', 'POST', '/v1/runs', { topology: 'echo', input: { text: 'ok' }, wait: true });
    expect(r).toMatchObject({ status: 200, body: { status: 'completed', output: 'OK!' } });
  };

  it('malformed JSON: 400 BODY_INVALID_JSON', async () => {
    h = await createHarness();
    const r = await raw('/v1/runs', '{"topology": "echo", "input": ');
    expect(r.status).toBe(400);
    expect(r.type).toContain('application/json');
    expect(r.body.error.code).toBe('BODY_INVALID_JSON');
    expect(r.body.error.message.length).toBeGreaterThan(0);
    await stillServes();
  });

  it('a body over bodyLimit: 413 BODY_TOO_LARGE', async () => {
    h = await createHarness({ bodyLimit: 1024 });
    const r = await raw('/v1/runs', JSON.stringify({ topology: 'echo', input: { text: 'x'.repeat(4096) } }));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('BODY_TOO_LARGE');
    await stillServes();
  });

  it('a body of the wrong shape: 400 REQUEST_INVALID naming each bad field', async () => {
    h = await createHarness();
    const r = await raw('/v1/runs', JSON.stringify({ topology: 7, input: {}, wait: 'yes', extra: 1 }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('REQUEST_INVALID');
    const paths = r.body.error.issues!.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['body.topology', 'body.wait']));
    expect(r.body.error.message).toContain('body.topology');
    const sig = await raw('/v1/runs/x/signals/approval', JSON.stringify({ payloadd: 1 }));
    expect(sig.status).toBe(400);
    expect(sig.body.error.code).toBe('REQUEST_INVALID');
    await stillServes();
  });

  it('an unknown topology: 404 TOPOLOGY_NOT_FOUND, for runs and for the topology itself', async () => {
    h = await createHarness();
    const r = await raw('/v1/runs', JSON.stringify({ topology: 'missing', input: {} }));
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'TOPOLOGY_NOT_FOUND' } } });
    expect(await h.call('viewer', 'GET', '/v1/topologies/missing')).toMatchObject({ status: 404, body: { error: { code: 'TOPOLOGY_NOT_FOUND' } } });
    await stillServes();
  });

  it('a body that is not JSON: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    h = await createHarness();
    const r = await raw('/v1/runs', 'topology=echo', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    await stillServes();
  });

  it('an unknown route: 404 NOT_FOUND with the error body, with or without a key', async () => {
    h = await createHarness();
    expect(await raw('/v1/nothing-here', '', {}, 'GET')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await h.call(undefined, 'GET', '/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await h.call(undefined, 'GET', '/v1/runs')).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    await stillServes();
  });

  it('a method a known path does not answer: 405 METHOD_NOT_ALLOWED with Allow, even a body method without a body type', async () => {
    h = await createHarness();
    const trace = await h.server.app.inject({ method: 'TRACE' as 'GET', url: '/healthz' });
    expect(trace.statusCode).toBe(405);
    expect(trace.headers['allow']).toBe('GET, HEAD');
    expect(JSON.parse(trace.body)).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
    const put = await raw('/v1/runs/r-1', '{}', {}, 'PUT');
    expect(put).toMatchObject({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining('GET, HEAD') } } });
    // QUERY carries a body: fastify refuses one without a content type before any route; still 405
    const query = await h.server.app.inject({ method: 'QUERY' as 'GET', url: '/v1/runs/r-1/state', headers: { authorization: `Bearer ${h.secrets.operator}` } });
    expect(query.statusCode).toBe(405);
    expect(query.headers['allow']).toBe('GET, HEAD');
    const runs = await raw('/v1/runs', '', {}, 'DELETE');
    expect(runs.status).toBe(405);
    expect(runs.body.error.message).toContain('GET, HEAD, POST');
    // a path no route has stays 404
    expect(await raw('/v1/runs/r-1/nothing', '', {}, 'DELETE')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    await stillServes();
  });

  it('a list cursor no page returned: 400 naming query.cursor (was a 500 from the store)', async () => {
    h = await createHarness();
    for (const cursor of ['0', 'nope', 'eyJ4IjoxfQ']) {
      const r = await raw(`/v1/runs?cursor=${cursor}`, '', {}, 'GET');
      expect(r, cursor).toMatchObject({ status: 400, body: { error: { code: 'REQUEST_INVALID' } } });
      expect(r.body.error.issues!.map((i) => i.path.join('.'))).toEqual(['querystring.cursor']);
    }
    await stillServes();
  });

  it('a NUL character (U+0000) in a name, an id or a filter: 400 naming the field, before any store sees it', async () => {
    h = await createHarness();
    const cases: [string, string, string, string][] = [
      ['GET', '/v1/runs?topology=a%00b', '', 'querystring.topology'],
      ['GET', '/v1/runs/r%001', '', 'params.id'],
      ['GET', '/v1/topologies/echo%00', '', 'params.name'],
      ['POST', '/v1/runs', JSON.stringify({ topology: 'echo', input: { text: 'x' }, project: 'p\u0000' }), 'body.project'],
      ['POST', '/v1/runs/r-1/cancel', JSON.stringify({ reason: 'why\u0000' }), 'body.reason'],
    ];
    for (const [method, url, payload, field] of cases) {
      const r = await raw(url, payload, {}, method as 'GET' | 'POST');
      expect(r.status, url).toBe(400);
      expect(r.body.error.issues!.map((i) => i.path.join('.')), url).toContain(field);
      expect(r.body.error.message, url).toContain('U+0000');
    }
    await stillServes();
  });
});
