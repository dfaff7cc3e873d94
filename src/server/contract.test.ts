/**
 * Contract tests: every reply the API gives, success or error, is valid against the
 * schema the served OpenAPI document declares for its route and status, and every /v1
 * route of the document requires the bearer key.
 */
import Ajv2019 from 'ajv/dist/2019.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHarness, type Harness, type KeyName } from '../../test/support/server-harness.ts';

interface Operation {
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly responses: Record<string, { readonly content?: Record<string, { readonly schema?: unknown }> }>;
}
interface Doc {
  readonly openapi: string;
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly components: { readonly securitySchemes: Record<string, { type: string; scheme?: string }>; readonly schemas: Record<string, unknown> };
  readonly paths: Record<string, Record<string, Operation>>;
}

/** The routes this test exercises (other route modules have their own contract checks). */
const OWNED: readonly string[] = [
  'GET /healthz', 'GET /readyz', 'GET /openapi.json', 'GET /v1/me', 'GET /v1/topologies', 'GET /v1/topologies/{name}',
  'POST /v1/runs', 'GET /v1/runs', 'GET /v1/runs/{id}', 'GET /v1/runs/{id}/events', 'GET /v1/runs/{id}/state',
  'POST /v1/runs/{id}/cancel', 'POST /v1/runs/{id}/signals/{name}', 'POST /v1/runs/{id}/fork',
];

describe('the API against its OpenAPI document', () => {
  let h: Harness;
  let doc: Doc;
  let ajv: InstanceType<typeof Ajv2019>;
  const checked = new Map<string, Set<number>>();

  beforeAll(async () => {
    h = await createHarness({ waitTimeoutMs: 5_000 });
    const r = await h.call(undefined, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body as Doc;
    ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'https://llmo.invalid/openapi.json' } as object);
  });
  afterAll(async () => { await h.close(); });

  const pointer = (...parts: string[]): string => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

  /** Sends the request and checks the reply against the document's schema for its route and status. */
  const call = async (key: KeyName | undefined, method: 'GET' | 'POST', url: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await h.call(key, method, url, body);
    const op = doc.paths[route]?.[method.toLowerCase()];
    expect(op, `${method} ${route} is in the document`).toBeDefined();
    const res = op!.responses[String(r.status)];
    expect(res, `${method} ${route} documents status ${r.status}`).toBeDefined();
    const type = String(r.headers['content-type']).split(';')[0]!;
    expect(res!.content?.[type]?.schema, `${method} ${route} ${r.status} has a ${type} schema`).toBeDefined();
    const validate = ajv.compile({ $ref: `https://llmo.invalid/openapi.json#/${pointer('paths', route, method.toLowerCase(), 'responses', String(r.status), 'content', type, 'schema')}` });
    const ok = validate(r.body);
    expect(ok ? [] : validate.errors, `${method} ${url} -> ${r.status} matches its schema`).toEqual([]);
    const k = `${method} ${route}`;
    if (!checked.has(k)) checked.set(k, new Set());
    checked.get(k)!.add(r.status);
    return r as { status: number; body: Record<string, unknown> };
  };

  it('declares the bearer key and requires it on every /v1 route; the probes and the document need none', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const security = op.security ?? doc.security;
        if (path.startsWith('/v1/')) expect({ route: `${method} ${path}`, security }).toEqual({ route: `${method} ${path}`, security: [{ apiKey: [] }] });
        expect(Object.keys(op.responses).length, `${method} ${path} documents its replies`).toBeGreaterThan(0);
        if (path.startsWith('/v1/')) expect(op.responses['401'], `${method} ${path} documents 401`).toBeDefined();
      }
    }
    // the validator bites: a body missing required fields, or of the wrong type, fails
    const view = ajv.compile({ $ref: `https://llmo.invalid/openapi.json#/${pointer('paths', '/v1/runs/{id}', 'get', 'responses', '200', 'content', 'application/json', 'schema')}` });
    expect(view({ runId: 'r' })).toBe(false);
    expect(view({ runId: 'r', topology: 't', version: 'v', status: 'done', createdAt: 1, updatedAt: 1, lastSeq: 0, input: null, nodes: {} })).toBe(false);
    expect(view({ runId: 'r', topology: 't', version: 'v', status: 'running', createdAt: 1, updatedAt: 1, lastSeq: 0, input: null, nodes: {} })).toBe(true);
  });

  it('every reply of the run and topology API matches the document, errors included', async () => {
    await call(undefined, 'GET', '/healthz', '/healthz');
    await call(undefined, 'GET', '/readyz', '/readyz');
    await call(undefined, 'GET', '/openapi.json', '/openapi.json');
    await call(undefined, 'GET', '/v1/me', '/v1/me');
    await call('narrow', 'GET', '/v1/me', '/v1/me');
    await call('viewer', 'GET', '/v1/topologies', '/v1/topologies');
    await call('viewer', 'GET', '/v1/topologies/approval', '/v1/topologies/{name}');
    await call('viewer', 'GET', '/v1/topologies/nope', '/v1/topologies/{name}');

    const done = await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'chat', input: { q: 'Say something about graphs and runs please.' }, wait: true, runId: 'c-1' });
    expect(done.status).toBe(200);
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'echo', input: { text: 'a' } })).status).toBe(202);
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'echo', input: { text: 1 }, wait: true })).status).toBe(400);
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'echo' , input: { text: 'a' }, runId: 'c-1' })).status).toBe(409);
    expect((await call('viewer', 'POST', '/v1/runs', '/v1/runs', { topology: 'echo', input: { text: 'a' } })).status).toBe(403);
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'nope', input: {} })).status).toBe(404);
    expect((await call(undefined, 'POST', '/v1/runs', '/v1/runs', { topology: 'echo', input: {} })).status).toBe(401);
    await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'echo', input: { text: 'boom' }, wait: true, runId: 'e-1' });

    expect((await call('viewer', 'GET', '/v1/runs?limit=1', '/v1/runs')).body['next']).toBeDefined();
    await call('viewer', 'GET', '/v1/runs?status=completed,failed&topology=chat', '/v1/runs');
    expect((await call('viewer', 'GET', '/v1/runs?status=bogus', '/v1/runs')).status).toBe(400);
    expect((await call('viewer', 'GET', '/v1/runs/c-1', '/v1/runs/{id}')).body['usage']).toBeDefined();
    expect((await call('globex', 'GET', '/v1/runs/c-1', '/v1/runs/{id}')).status).toBe(404);
    await call('viewer', 'GET', '/v1/runs/c-1/events', '/v1/runs/{id}/events');
    await call('viewer', 'GET', '/v1/runs/c-1/events?fromSeq=1&toSeq=2', '/v1/runs/{id}/events');
    expect((await call('viewer', 'GET', '/v1/runs/c-1/events?fromSeq=x', '/v1/runs/{id}/events')).status).toBe(400);
    expect((await call('globex', 'GET', '/v1/runs/c-1/events', '/v1/runs/{id}/events')).status).toBe(404);
    await call('viewer', 'GET', '/v1/runs/c-1/state', '/v1/runs/{id}/state');
    await call('viewer', 'GET', '/v1/runs/c-1/state?seq=1', '/v1/runs/{id}/state');
    expect((await call('viewer', 'GET', '/v1/runs/c-1/state?seq=-2', '/v1/runs/{id}/state')).status).toBe(400);
    expect((await call('viewer', 'GET', '/v1/runs/unknown/state', '/v1/runs/{id}/state')).status).toBe(404);

    // cancel: in flight, forbidden, unknown, not in flight
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'slow', input: { n: 1 }, runId: 's-1' })).status).toBe(202);
    expect((await call('viewer', 'POST', '/v1/runs/s-1/cancel', '/v1/runs/{id}/cancel')).status).toBe(403);
    expect((await call('operator', 'POST', '/v1/runs/s-1/cancel', '/v1/runs/{id}/cancel')).status).toBe(202);
    expect((await call('operator', 'POST', '/v1/runs/nope/cancel', '/v1/runs/{id}/cancel')).status).toBe(404);
    expect((await call('operator', 'POST', '/v1/runs/c-1/cancel', '/v1/runs/{id}/cancel')).status).toBe(409);
    const cancelled = await call('viewer', 'GET', '/v1/runs/s-1', '/v1/runs/{id}');
    expect(['running', 'cancelled']).toContain(cancelled.body['status']);

    // signal: waiting run, bad payload, wrong name, forbidden, fine
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'approval', input: { topic: 'x' }, wait: true, runId: 'w-1' })).body['status']).toBe('waiting');
    await call('viewer', 'GET', '/v1/runs/w-1', '/v1/runs/{id}');
    expect((await call('operator', 'POST', '/v1/runs/w-1/signals/approval', '/v1/runs/{id}/signals/{name}', { payload: { approved: 1 } })).status).toBe(400);
    expect((await call('operator', 'POST', '/v1/runs/w-1/signals/nah', '/v1/runs/{id}/signals/{name}', { payload: {} })).status).toBe(409);
    expect((await call('viewer', 'POST', '/v1/runs/w-1/signals/approval', '/v1/runs/{id}/signals/{name}', { payload: { approved: true } })).status).toBe(403);
    expect((await call('operator', 'POST', '/v1/runs/w-1/signals/approval', '/v1/runs/{id}/signals/{name}', { payload: { approved: true } })).status).toBe(202);

    // cancel a parked run (it holds no process): recorded, then cancelled here
    expect((await call('operator', 'POST', '/v1/runs', '/v1/runs', { topology: 'approval', input: { topic: 'y' }, wait: true, runId: 'w-2' })).body['status']).toBe('waiting');
    expect((await call('operator', 'POST', '/v1/runs/w-2/cancel', '/v1/runs/{id}/cancel', { reason: 'x'.repeat(1001) })).status).toBe(400);
    expect((await call('operator', 'POST', '/v1/runs/w-2/cancel', '/v1/runs/{id}/cancel', { reason: 'withdrawn' })).status).toBe(202);
    await vi.waitFor(async () => expect((await call('viewer', 'GET', '/v1/runs/w-2', '/v1/runs/{id}')).body['status']).toBe('cancelled'));
    expect((await call('viewer', 'GET', '/v1/runs/w-2', '/v1/runs/{id}')).body['error']).toMatchObject({ message: 'run cancelled: withdrawn' });
    expect((await call('operator', 'POST', '/v1/runs/w-2/signals/approval', '/v1/runs/{id}/signals/{name}', { payload: { approved: true } })).status).toBe(409);

    // fork: waited, not waited, bad node, forbidden, unknown
    expect((await call('operator', 'POST', '/v1/runs/e-1/fork', '/v1/runs/{id}/fork', { from: 'out', wait: true })).status).toBe(200);
    expect((await call('operator', 'POST', '/v1/runs/e-1/fork', '/v1/runs/{id}/fork', { from: 'up', input: { text: 'z' } })).status).toBe(202);
    expect((await call('operator', 'POST', '/v1/runs/e-1/fork', '/v1/runs/{id}/fork', { from: 'zz' })).status).toBe(400);
    expect((await call('viewer', 'POST', '/v1/runs/e-1/fork', '/v1/runs/{id}/fork', { from: 'out' })).status).toBe(403);
    expect((await call('operator', 'POST', '/v1/runs/nope/fork', '/v1/runs/{id}/fork', { from: 'out' })).status).toBe(404);

    for (const route of OWNED) expect(checked.has(route), `${route} was exercised`).toBe(true);
  });
});
