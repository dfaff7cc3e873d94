// Admission backpressure of a worker: while its publish queue is full (the transport does not take tokens and
// events), runs in flight finish but no new run starts; once the transport takes them again, every request
// is answered. Memory transport, whose token and event sends wait at a gate (a slow Kafka).
import { filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import { createMemoryTransport } from '../transports/index.ts';
import type { Transport } from '../transports/transport.ts';
import { createClient, createWorker } from './index.ts';

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('worker admission backpressure', () => {
  it('no new run starts while the publish queue is full; all are answered once it drains', async () => {
    const inner = createMemoryTransport();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const transport = new Proxy(inner, {
      get(target, p) {
        if (p === 'send') {
          return async (kind: Parameters<Transport['send']>[0], messages: Parameters<Transport['send']>[1]) => {
            // the publisher's sends wait; a run's own `request.attempt` event (sent before it starts) does not
            const attempt = kind === 'event' && messages.every((m) => (m.value as { type?: string }).type === 'request.attempt');
            if ((kind === 'token' || kind === 'event') && !attempt) await gate;
            return target.send(kind, messages as never);
          };
        }
        const v = Reflect.get(target, p) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Transport;
    const many = topology('many-events', { input: z.object({ i: z.number() }) })
      .map('a', { run: ({ input }) => input.i })
      .map('b', { after: ['a'], run: ({ deps }) => deps.a + 1 })
      .build({ output: 'b' });
    const engine = createEngine();
    let started = 0;
    engine.events$.pipe(filter((e) => e.type === 'run.started')).subscribe(() => started++);
    const N = 400; // ~6 lifecycle events a run: far more than the default high-water mark of 1000 messages
    // every request may be in flight at once (a handler holds its slot until its run's events are out), and
    // lingerMs 0 queues each run's events at once: only admission keeps runs from starting
    const worker = createWorker({ engine, transport, topologies: [many], maxInFlight: N, inbound: false, lingerMs: 0 });
    await worker.start();
    const client = createClient(transport);
    // requests arrive one by one: the next once this one started (or a moment later, when admission holds it)
    const pending: Promise<Awaited<ReturnType<typeof client.submit>>>[] = [];
    for (let i = 0; i < N; i++) {
      const s0 = started;
      pending.push(client.submit('many-events', { i }));
      for (let k = 0; k < 10 && started === s0; k++) await wait(1);
      await wait(1);
    }
    const results = Promise.all(pending);
    let before = -1;
    for (let k = 0; k < 100 && started !== before; k++) {
      before = started;
      await wait(50);
    }
    // stalled: admission stopped at the high-water mark, well before every request in flight had started
    expect(started).toBeLessThan(N);
    expect(started).toBeGreaterThan(100);
    await wait(200);
    expect(started).toBe(before);
    open();
    const all = await results;
    expect(all.every((r) => r.status === 'completed')).toBe(true);
    expect(started).toBe(N);
    await client.close();
    await worker.stop();
    await engine.shutdown();
    await transport.close();
  });
});
