import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isValidationError, topology } from '../index.ts';
import { createMemoryTransport } from '../transports/index.ts';
import { createClient, createWorker, type WorkerOptions } from './index.ts';

const echo = topology('echo', { input: z.object({ text: z.string() }) })
  .map('upper', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'upper' });

describe('createWorker on the memory transport', () => {
  it('serves requests and publishes results', async () => {
    const transport = createMemoryTransport();
    const worker = createWorker({ engine: createEngine(), transport, topologies: [echo], maxInFlight: 2 });
    await worker.start();
    const client = createClient(transport);
    const r = await client.submit('echo', { text: 'hi' });
    expect(r.status).toBe('completed');
    expect(JSON.parse(r.output!)).toBe('HI');
    const unknown = await client.submit('nope', {});
    expect(unknown.status).toBe('failed');
    expect(JSON.parse(unknown.error!).code).toBe('UNKNOWN_TOPOLOGY');
    await client.close();
    await worker.stop();
    await transport.close();
  });

  it.each([
    ['maxInFlight', { maxInFlight: 0 }],
    ['topologies', { topologies: [] }],
    ['engine', { engine: {} }],
    ['logger', { logger: console }],
    ['unknownOption', { unknownOption: 1 }],
  ])('names the bad option %s', (field, patch) => {
    const base: WorkerOptions = { engine: createEngine(), transport: createMemoryTransport(), topologies: [echo] };
    let error: unknown;
    try {
      createWorker({ ...base, ...patch } as WorkerOptions);
    } catch (e) {
      error = e;
    }
    expect(isValidationError(error)).toBe(true);
    if (!isValidationError(error)) return;
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.issues.map((i) => i.path.join('.')).join(' ')).toContain(field === 'unknownOption' ? 'options' : `options.${field}`);
  });
});
