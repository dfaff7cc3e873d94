import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../test/support/server-harness.ts';
import { optionalBodies, type OpenApiDoc } from './openapi.ts';

interface Doc {
  paths: Record<string, Record<string, { requestBody?: { required?: boolean }; parameters?: { name: string; in: string; schema: Record<string, unknown> }[] }>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

describe('the OpenAPI document says what the routes take', () => {
  let h: Harness;
  afterEach(async () => { await h.close(); });
  const doc = async (): Promise<Doc> => (await h.call(undefined, 'GET', '/openapi.json')).body as unknown as Doc;
  const param = (d: Doc, path: string, name: string) => d.paths[path]!['get']!.parameters!.find((p) => p.name === name)!.schema;

  it('a body that may be left out is not required; others are', async () => {
    h = await createHarness();
    const d = await doc();
    expect(d.paths['/v1/runs/{id}/cancel']!['post']!.requestBody!.required).toBe(false);
    expect(d.paths['/v1/runs']!['post']!.requestBody!.required).toBe(true);
    expect(d.paths['/v1/runs/{id}/signals/{name}']!['post']!.requestBody!.required).toBe(true);
    const r = await h.server.app.inject({ method: 'POST', url: '/v1/runs/r-none/cancel', headers: { authorization: `Bearer ${h.secrets.operator}` } });
    expect(r.statusCode).toBe(404); // taken without a body: the run is what is missing
  });

  it('publishes the checks a schema makes: list statuses and cursors by pattern, at least one role per key', async () => {
    h = await createHarness();
    const d = await doc();
    const status = new RegExp(param(d, '/v1/runs', 'status')['pattern'] as string);
    for (const ok of ['', 'running', 'completed, failed', 'waiting,cancelled']) expect(status.test(ok), ok).toBe(true);
    for (const bad of [':', 'done', 'running,', ',failed']) expect(status.test(bad), bad).toBe(false);
    expect(param(d, '/v1/runs', 'cursor')['pattern']).toBeTypeOf('string');
    const keyBody = JSON.stringify(d.components.schemas);
    expect(keyBody).toContain('"minProperties":1');
  });

  it('refuses an empty number in a query instead of reading it as 0', async () => {
    h = await createHarness();
    for (const url of ['/v1/runs/r-1/state?seq=', '/v1/runs/r-1/events?fromSeq=', '/v1/runs?limit=']) {
      const r = await h.call('operator', 'GET', url);
      expect(r.status, url).toBe(400);
      expect(JSON.stringify(r.body), url).toContain('REQUEST_INVALID');
      expect(JSON.stringify(r.body), url).toContain('expected a whole number');
    }
  });

  it('optionalBodies follows a $ref and anyOf branches, and leaves bodies that refuse null', () => {
    const d: OpenApiDoc = {
      paths: {
        '/a': { post: { requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } } } } },
        '/b': { post: { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } } } },
        '/c': { post: { requestBody: { required: true, content: { 'application/json': { schema: { type: ['object', 'null'] } } } } } },
      },
      components: { schemas: { A: { anyOf: [{ type: 'object' }, { type: 'null' }] } } },
    };
    optionalBodies(d);
    expect([d.paths!['/a']!['post']!.requestBody!.required, d.paths!['/b']!['post']!.requestBody!.required, d.paths!['/c']!['post']!.requestBody!.required]).toEqual([false, true, false]);
  });
});
