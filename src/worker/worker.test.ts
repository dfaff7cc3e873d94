import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isValidationError, topology } from '../index.ts';
import { createMemoryTransport } from '../transports/index.ts';
import { createClient, createWorker, type WorkerOptions } from './index.ts';
import type { RequestStreamEvent } from './client.ts';

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
    await client.close();
    await worker.stop();
    await transport.close();
  });

  it('acknowledges a request for a topology it does not serve without answering (another deployment answers)', async () => {
    const transport = createMemoryTransport();
    const worker = createWorker({ engine: createEngine(), transport, topologies: [echo] });
    await worker.start();
    const client = createClient(transport);
    void client.submit('nope', {});
    const r = await client.submit('echo', { text: 'after' });
    expect(r.status).toBe('completed');
    expect(worker.skipped).toBe(1);
    expect(client.results.size).toBe(1);
    expect(worker.group).toBe('llmo-workers.echo');
    await client.close();
    await worker.stop();
    await transport.close();
  });

  it('answers an input larger than maxInputBytes with INPUT_TOO_LARGE naming the size and the limit', async () => {
    const transport = createMemoryTransport();
    const worker = createWorker({ engine: createEngine(), transport, topologies: [echo], maxInputBytes: 1000 });
    await worker.start();
    const client = createClient(transport);
    const r = await client.submit('echo', { text: 'é'.repeat(1000) });
    expect(r.status).toBe('failed');
    const error = JSON.parse(r.error!) as { code: string; message: string };
    expect(error.code).toBe('INPUT_TOO_LARGE');
    expect(error.message).toContain('2011 bytes');
    expect(error.message).toContain('1000 bytes (maxInputBytes)');
    expect((await client.submit('echo', { text: 'small' })).status).toBe('completed');
    await client.close();
    await worker.stop();
    await transport.close();
  });

  it('tags tokens and events with the request and attempt, marks the run ended, and client.tokens follows it', async () => {
    const transport = createMemoryTransport();
    const engine = createEngine();
    const gen = topology('gen', { input: z.object({ q: z.string() }) })
      .llm('answer', { model: 'sim:fast', maxTokens: 30, prompt: ({ input }) => input.q })
      .build({ output: 'answer' });
    const worker = createWorker({ engine, transport, topologies: [gen], workerId: 'w1' });
    await worker.start();
    const client = createClient(transport);
    const seen: RequestStreamEvent[] = [];
    const done = new Promise<void>((resolve, reject) => client.tokens('req-1').subscribe({ next: (e) => seen.push(e), complete: resolve, error: reject }));
    const r = await client.submit('gen', { q: 'Why streams?' }, { requestId: 'req-1' });
    await done;
    expect(seen[0]).toEqual({ type: 'attempt', requestId: 'req-1', runId: r.runId, attempt: 1, worker: 'w1' });
    expect(seen.at(-1)).toEqual({ type: 'result', result: r });
    const tokens = seen.flatMap((e) => (e.type === 'tokens' ? e.tokens : []));
    expect(tokens).toHaveLength(30);
    expect(tokens.join('')).toBe((JSON.parse(r.output!) as { text: string }).text);
    const events = await firstValueFrom(transport.read('event', { fromBeginning: true }).pipe(take(3), toArray()));
    expect(events.map((e) => [e.value.type, e.value.requestId, e.value.attempt])).toEqual([['request.attempt', 'req-1', 1], ['run.started', 'req-1', 1], expect.anything()]);
    expect(events[0]!.key).toBe('req-1');
    await client.close();
    await worker.stop();
    await engine.shutdown();
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
