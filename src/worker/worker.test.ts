import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isValidationError, OrchestratorError, topology } from '../index.ts';
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

  it('a result too large to publish: the client gets a failed RESULT_TOO_LARGE result, the request is dead-lettered once with the reason, the worker goes on', async () => {
    const transport = createMemoryTransport();
    // the memory transport has no size limit: refuse big results as the Kafka producer does
    const send: typeof transport.send = async (kind, messages) => {
      if (kind === 'result' && messages.some((m) => ((m.value as { output?: string | null }).output ?? '').length > 1000)) {
        throw new OrchestratorError('KAFKA_RECORD_TOO_LARGE', 'the record is 2010 bytes, over the limit of 1000 bytes', { retriable: false });
      }
      return transport.send(kind, messages);
    };
    const refusing = new Proxy(transport, {
      get: (t, key) => {
        if (key === 'send') return send;
        const v: unknown = Reflect.get(t, key, t);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(t) : v;
      },
    });
    const make = topology('make', { input: z.object({ n: z.number() }) }).map('make', { run: ({ input }) => 'x'.repeat(input.n) }).build({ output: 'make' });
    let runs = 0;
    const engine = createEngine();
    engine.events$.subscribe((e) => { if (e.type === 'run.started') runs++; });
    const worker = createWorker({ engine, transport: refusing, topologies: [make], inbound: false, publish: false });
    await worker.start();
    const client = createClient(transport);
    const dead = firstValueFrom(transport.read('deadLetter', { fromBeginning: true }).pipe(take(1)));
    const r = await client.submit('make', { n: 2000 });
    expect(r.status).toBe('failed');
    expect(JSON.parse(r.error!)).toMatchObject({ code: 'RESULT_TOO_LARGE', message: expect.stringContaining('over the limit of 1000 bytes') });
    const d = (await dead).value;
    expect(d.topic).toBe(transport.topics.request);
    expect(d.reason).toMatch(/^handler failed \(not retriable\): RESULT_TOO_LARGE: request \S+: the result cannot be published: .*over the limit of 1000 bytes/);
    expect((await client.submit('make', { n: 3 })).status).toBe('completed');
    expect(runs).toBe(2); // not run again
    expect(client.duplicates).toBe(0);
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
