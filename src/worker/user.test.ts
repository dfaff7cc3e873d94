// A submitted run's user travels in the request (run-request v2) to the worker's engine: the loop's
// decision sees it (sticky experiments), and v1 requests (no user) still run.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import type { DecisionRequest, RunLoop } from '../runtime/loop.ts';
import { createMemoryTransport } from '../transports/memory.ts';
import { loadSchema } from '../transports/codec.ts';
import { createClient } from './client.ts';
import { createWorker } from './worker.ts';

const t = topology('who', { input: z.object({}) }).map('a', { run: () => 1 }).build({ output: 'a' });

describe('run requests carry the user', () => {
  it('the worker runs a request under its user; a request without one runs without', async () => {
    const users: (string | undefined)[] = [];
    const loop: RunLoop = { decide: (r: DecisionRequest) => { users.push(r.user); return undefined; }, ended: () => undefined, stats: () => [] };
    const transport = createMemoryTransport();
    const engine = createEngine({ loop });
    const worker = createWorker({ engine, transport, topologies: [t], inbound: false });
    await worker.start();
    const client = createClient(transport);
    expect((await client.submit('who', {}, { tenant: 'acme', user: 'ana' })).status).toBe('completed');
    expect((await client.submit('who', {})).status).toBe('completed');
    await worker.stop();
    await client.close();
    await engine.shutdown();
    expect(users).toEqual(['ana', undefined]);
  });

  it('v1 request data (written before the user field) reads with user null', () => {
    const v1 = avro.Type.forSchema(loadSchema('run-request.v1.avsc'));
    const buf = v1.toBuffer({ requestId: 'r', topology: 'who', input: '{}', priority: 'normal', tenant: null, deadlineMs: null, createdAt: 1 });
    const v2 = avro.Type.forSchema(loadSchema('run-request.v2.avsc'));
    const read = v2.createResolver(v1);
    expect(v2.fromBuffer(buf, read)).toMatchObject({ requestId: 'r', user: null });
  });
});
