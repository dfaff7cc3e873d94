// Routing by topology on a real broker: two deployments (different topologies) on one prefix, each in
// its default group (derived from the prefix and the topologies it serves), both answer their own
// requests and neither answers the other's with UNKNOWN_TOPOLOGY.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../../src/index.ts';
import { createKafkaTransport, type KafkaTransport } from '../../src/transports/kafka/index.ts';
import { createClient } from '../../src/worker/client.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { deleteTopics, rawKafka, uniquePrefix } from './support.ts';

const brokers = inject('kafkaBrokers');
const prefix = uniquePrefix('route');

const upper = topology('route-upper', { input: z.object({ text: z.string() }) })
  .map('upper', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'upper' });
const length = topology('route-length', { input: z.object({ text: z.string() }) })
  .map('length', { run: ({ input }) => input.text.length })
  .build({ output: 'length' });

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await deleteTopics(rawKafka(brokers), prefix);
});

describe.skipIf(brokers === '')('routing by topology', () => {
  it('two workers serving different topologies on one prefix: both topologies complete, no UNKNOWN_TOPOLOGY', async () => {
    const make = (clientId: string): KafkaTransport => {
      const t = createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 3, clientId });
      cleanups.push(() => t.close());
      return t;
    };
    const ta = make('route-a');
    const tb = make('route-b');
    const tc = make('route-client');
    await tc.ensureTopics();
    const a = createWorker({ engine: createEngine(), transport: ta, topologies: [upper], inbound: false, workerId: 'a' });
    const b = createWorker({ engine: createEngine(), transport: tb, topologies: [length], inbound: false, workerId: 'b' });
    cleanups.push(() => a.stop(), () => b.stop());
    expect(a.group).toBe(`${prefix}-workers.route-upper`);
    expect(b.group).toBe(`${prefix}-workers.route-length`);
    await Promise.all([a.start(), b.start()]);
    const client = createClient(tc);
    cleanups.push(() => client.close());

    const texts = Array.from({ length: 12 }, (_, i) => `text ${i}`);
    const results = await Promise.all(texts.flatMap((text) => [client.submit('route-upper', { text }), client.submit('route-length', { text })]));
    for (const r of results) expect(r.status, r.error ?? '').toBe('completed');
    expect(results.filter((r) => r.topology === 'route-upper').map((r) => [r.worker, JSON.parse(r.output!)])).toEqual(texts.map((t) => ['a', t.toUpperCase()]));
    expect(results.filter((r) => r.topology === 'route-length').map((r) => [r.worker, JSON.parse(r.output!)])).toEqual(texts.map((t) => ['b', t.length]));
    expect(client.duplicates).toBe(0);
    expect(client.results.size).toBe(2 * texts.length);
    expect([...client.results.values()].some((r) => (r.error ?? '').includes('UNKNOWN_TOPOLOGY'))).toBe(false);
    // Every request reached both groups: each worker handled its own and skipped the other's. The counts
    // catch up once the broker acknowledged each result (a client may read a result before its sender hears
    // back) and each group has gone past the other's requests.
    const counts = (): number[] => [a.handled, b.handled, a.skipped, b.skipped];
    const deadline = Date.now() + 30_000;
    while (counts().some((n) => n < texts.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(counts()).toEqual([texts.length, texts.length, texts.length, texts.length]);
  });
});
