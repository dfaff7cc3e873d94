import * as z from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../runtime/engine.ts';
import { createMemoryStore } from '../stores/memory.ts';
import { topology } from '../builder/builder.ts';
import { createLocalBackend } from './backend.ts';
import { createMemoryKeyStore } from './keys/memory.ts';
import { createServer, type LlmoServer } from './server.ts';

const echo = topology('echo', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'out' });

describe('createServer', () => {
  let server: LlmoServer | undefined;
  afterEach(async () => { await server?.close(); server = undefined; });

  it('answers 401 with an error body on /v1 without a key, and serves the OpenAPI document without one', async () => {
    const engine = createEngine({ store: createMemoryStore() });
    server = await createServer({ backend: createLocalBackend(engine, [echo]), runs: engine.runs, keys: createMemoryKeyStore() }, { port: 0 });
    const r = await server.app.inject({ method: 'GET', url: '/v1/runs' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const doc = await server.app.inject({ method: 'GET', url: '/openapi.json' });
    expect([200, 404]).toContain(doc.statusCode);
  });

  it('names a bad option', async () => {
    const engine = createEngine({ store: createMemoryStore() });
    await expect(createServer({ backend: createLocalBackend(engine, [echo]), runs: engine.runs, keys: createMemoryKeyStore() }, { port: -1 })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
  });

  it('runs a topology on the local backend and reports its outcome', async () => {
    const engine = createEngine({ store: createMemoryStore() });
    const backend = createLocalBackend(engine, [echo]);
    const seen: string[] = [];
    const started = backend.start({ topology: 'echo', input: { text: 'hi' }, runId: 'r-1', tenant: 'acme' });
    backend.live('r-1').subscribe((e) => seen.push(e.type));
    const outcome = await started.done;
    expect(outcome).toMatchObject({ runId: 'r-1', status: 'completed', output: 'HI' });
    expect(seen).toContain('run.completed');
    expect((await engine.runs.get('r-1'))?.tenant).toBe('acme');
  });

  it('live() subscribed right after start() sees every event, also of a run that ends at once (synchronous nodes, no store)', async () => {
    const backend = createLocalBackend(createEngine(), [echo]);
    const seen: string[] = [];
    const started = backend.start({ topology: 'echo', input: { text: 'hi' }, runId: 'r-2', tenant: 'acme' });
    backend.live('r-2').subscribe((e) => seen.push(e.type));
    expect(await started.done).toMatchObject({ status: 'completed', output: 'HI' });
    expect(seen).toEqual(expect.arrayContaining(['run.started', 'node.completed', 'run.completed']));
  });
});
