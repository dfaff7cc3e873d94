import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../runtime/engine.ts';
import { createMemoryStore } from '../../stores/memory.ts';
import type { Health, HealthReport } from '../../transports/health.ts';
import { createLocalBackend, type RunBackend } from '../backend.ts';
import { createMemoryKeyStore } from '../keys/memory.ts';
import { createServer, type LlmoServer } from '../server.ts';
import type { ServerDeps } from '../context.ts';
import { createGate, harnessTopologies } from '../../../test/support/server-harness.ts';

describe('probes', () => {
  let server: LlmoServer | undefined;
  afterEach(async () => { await server?.close(); server = undefined; });

  const build = async (extra: Partial<ServerDeps> = {}, ready = true): Promise<LlmoServer> => {
    const topologies = harnessTopologies(createGate());
    const engine = createEngine({ store: createMemoryStore(), topologies });
    const local = createLocalBackend(engine, topologies);
    const backend: RunBackend = { ...local, ready: () => ready };
    server = await createServer({ backend, runs: engine.runs, keys: createMemoryKeyStore(), ...extra }, { port: 0 });
    return server;
  };

  it('/healthz and /readyz answer without a key: 200 up with the backend as a part', async () => {
    const s = await build();
    const h = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'up', components: { backend: { status: 'up' } } });
    const r = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ready: true, backend: 'local' });
  });

  it('a backend not ready: /readyz 503, /healthz 503 down naming why', async () => {
    const s = await build({}, false);
    expect((await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const h = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(h.statusCode).toBe(503);
    expect(h.json()).toMatchObject({ status: 'down', components: { backend: { status: 'down', reason: expect.stringContaining('not ready') } } });
    // and a run submitted meanwhile is refused with 503, not lost
    const keys = createMemoryKeyStore();
    await s.close();
    const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'operator' } });
    const t = await build({ keys }, false);
    const r = await t.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${secret}` }, payload: { topology: 'echo', input: { text: 'a' } } });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: { code: 'BACKEND_NOT_READY' } });
  });

  it('/healthz reports the parts behind the server (degraded is still 200, down is 503)', async () => {
    const report$ = new BehaviorSubject<HealthReport>({ status: 'degraded', components: { store: { status: 'degraded', since: 1, reason: 'slow commits' } } });
    const health: Health = { report: () => report$.value, changes$: report$ };
    const s = await build({ health });
    const h = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'degraded', components: { store: { status: 'degraded', reason: 'slow commits' }, backend: { status: 'up' } } });
    report$.next({ status: 'down', components: { store: { status: 'down', since: 2, reason: 'disk full' } } });
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
  });

  it('/metrics: the exporter\'s text when the server has one, else 404 with an error body', async () => {
    let s = await build();
    const none = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ error: { code: 'METRICS_DISABLED' } });
    await s.close();
    s = await build({ metrics: (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }); res.end('llmo_runs_total 3\n'); } });
    const m = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toBe('llmo_runs_total 3\n');
  });

  it('/openapi.json: an OpenAPI 3.1 document listing the routes', async () => {
    const s = await build();
    const r = await s.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/healthz', '/readyz', '/metrics', '/v1/me', '/v1/topologies', '/v1/topologies/{name}', '/v1/runs', '/v1/runs/{id}',
      '/v1/runs/{id}/events', '/v1/runs/{id}/state', '/v1/runs/{id}/cancel', '/v1/runs/{id}/signals/{name}', '/v1/runs/{id}/fork',
    ]));
  });
});
