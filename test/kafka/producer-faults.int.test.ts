// The sending side under faults, on real brokers:
// - a record near the broker's size limit (1 MB) that cannot be decoded is dead-lettered with its payload
//   truncated to fit (the full copy plus metadata would be refused), and consumption goes on;
// - a produce the broker wrote but whose answer was lost does not wedge the idempotent producer (later
//   sends refused as out of order, or dropped as duplicates): the producer is replaced;
// - a result too large to publish reaches the client as a failed result (RESULT_TOO_LARGE), not never;
// - on a PRIVATE broker restarted twice while a worker's publisher streams tokens under load, every
//   completed run's tokens are readable afterwards, the producer recovers by itself and health goes
//   red, then green again.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { topology } from '../../src/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import type { RunResult } from '../../src/runtime/result.ts';
import { createCodec } from '../../src/transports/codec.ts';
import { createHealthBoard, type HealthStatus, type TransportEvent } from '../../src/transports/health.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createSender } from '../../src/transports/kafka/producer.ts';
import type { FeedbackMessage, TokenBatchMessage } from '../../src/transports/messages.ts';
import type { Envelope, Transport } from '../../src/transports/transport.ts';
import { createClient } from '../../src/worker/client.ts';
import { publishEvents } from '../../src/worker/publisher.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { startPrivateBroker, type PrivateBroker } from './private-broker.ts';
import { deleteTopics, rawKafka, rawProducer, readN, sampleMessages, uniquePrefix, waitFor, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const brokerList = (brokers ?? '').split(',');
/** The broker's default message.max.bytes (the shared broker and the private one keep the default). */
const BROKER_MAX = 1_048_588;

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: nothing after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
};

describe.skipIf(!brokers)('producer faults on the shared broker', () => {
  const kafka = rawKafka(brokers ?? '', 'producer-faults-int');
  const prefixes: string[] = [];
  const fresh = (tag: string): string => {
    const p = uniquePrefix(tag);
    prefixes.push(p);
    return p;
  };
  let producer: Producer | undefined;

  afterAll(async () => {
    await producer?.disconnect();
    for (const p of prefixes) await deleteTopics(kafka, p);
  });

  it('dead-letters an undecodable record near 1 MB with its payload truncated to fit; the next record is delivered', async () => {
    const prefix = fresh('it-dlbig');
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'dl-big-int' });
    const events: TransportEvent[] = [];
    transport.events$.subscribe((e) => events.push(e));
    const codec = createCodec();
    const valid = codec.encode('feedback', { ...sampleMessages().feedback, feedbackId: 'fb-after-big' });
    // As large as the broker takes (key, headers and batch framing included): the dead-letter copy,
    // which adds the reason, topic, headers and offset, cannot fit whole.
    const big = randomBytes(BROKER_MAX - 250);
    const got: FeedbackMessage[] = [];
    try {
      await transport.ensureTopics();
      await waitForTopics(brokers!, Object.values(transport.topics));
      producer = await rawProducer(kafka);
      // one send each: the big record alone is as much as one request may carry
      await producer.send({ topic: transport.topics.feedback, acks: -1, messages: [{ key: 'big-key', value: big, headers: valid.headers }] });
      await producer.send({ topic: transport.topics.feedback, acks: -1, messages: [{ key: 'big-key', value: valid.value, headers: valid.headers }] });
      const c = await transport.consume('feedback', { group: `${prefix}.g`, maxInFlight: 4 }, async (m) => { got.push(m.value); });
      const [dl] = await readN(transport, 'deadLetter', 1, 45_000);
      const d = dl!.value;
      expect(d.topic).toBe(transport.topics.feedback);
      expect(d.reason).toMatch(/^cannot decode feedback/);
      expect(d.key?.toString('utf8')).toBe('big-key');
      expect(d.headers['llmo-kind']).toBe('feedback');
      expect(d.truncated).toBe(true);
      expect(d.originalSize).toBe(big.length);
      expect(d.value!.length).toBeGreaterThan(900_000); // cut to fit, not dropped
      expect(d.value!.length).toBeLessThan(1_000_000); // under the default maxMessageBytes
      expect(d.value!.equals(big.subarray(0, d.value!.length))).toBe(true); // a prefix of the original
      await waitFor(() => got.length === 1, 'the valid record behind the big one', 30_000);
      expect(got[0]!.feedbackId).toBe('fb-after-big');
      expect(events).toContainEqual(expect.objectContaining({ type: 'dead-lettered', topic: transport.topics.feedback, offset: d.offset, truncated: true }));
      await c.stop();
    } finally {
      await transport.close();
    }
  });

  /**
   * Sends [0, 1], loses the answers of the send of [2] (and of kafkajs's retry of it) although the broker wrote
   * it, then sends `after` (lists of token indexes, one send each) and returns what the topic holds.
   */
  async function lostAnswer(tag: string, after: readonly (readonly number[])[]) {
    const prefix = fresh(tag);
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'lost-ack-int', partitions: 1 });
    const proxy = await startFaultProxy(brokerList[0]!);
    // kafkajs through the proxy with one client retry (an idempotent producer needs one): losing two answers fails the send
    const viaProxy = new Kafka({
      clientId: 'lost-ack-int', brokers: [proxy.address], socketFactory: proxy.socketFactory, logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 },
    });
    const health = createHealthBoard();
    const events: TransportEvent[] = [];
    const sender = createSender({ kafka: viaProxy, topics: transport.topics, codec: createCodec(), topicsReady: async () => undefined, health, emit: (e) => events.push(e) });
    const batch = (i: number) => ({ key: 'run-1', value: { runId: 'run-1', nodeId: 'gen', firstIndex: i, tokens: [`t${i}`], restart: null, ts: i } });
    try {
      await transport.ensureTopics();
      await waitForTopics(brokers!, Object.values(transport.topics));
      await sender.send('token', [batch(0), batch(1)]);
      proxy.loseNextResponse(0, 2); // Produce: the send and kafkajs's retry of it
      // written by the broker, but the client hears nothing: for kafkajs, its sequence numbers were not used
      await expect(sender.send('token', [batch(2)])).rejects.toMatchObject({ retriable: true });
      expect(proxy.lost).toBe(2);
      expect(health.report().components.producer?.status).toBe('down');
      for (const xs of after) await within(sender.send('token', xs.map(batch)), 30_000, `the send of ${xs.join(', ')} after the lost answer`);
      expect(health.report().components.producer?.status).toBe('up');
      const want = 3 + after.flat().length;
      const read = await collect(transport, 'token', (xs) => xs.length >= want, 15_000);
      process.stdout.write(`[measure] lost answer ${JSON.stringify({ tag, recreated: events.filter((e) => e.type === 'producer.recreated').map((e) => (e as { reason: string }).reason) })}\n`);
      expect(events).toContainEqual(expect.objectContaining({ type: 'producer.recreated' }));
      expect(events).toContainEqual(expect.objectContaining({ type: 'publish.failed', topic: transport.topics.token, messages: 1 }));
      return read.map((b) => b.value.firstIndex);
    } finally {
      await sender.close();
      await proxy.close();
      await transport.close();
    }
  }

  it('a produce the broker wrote but whose answer was lost: later sends are not refused as out of order', async () => {
    // with the old producer, [3, 4] reuses sequence number 3 and is out of order, and so is every send after it
    expect(await lostAnswer('it-lostack-oos', [[3, 4], [5]])).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a produce the broker wrote but whose answer was lost: the next send of the same size is not dropped as a duplicate', async () => {
    // with the old producer, [3] gets the sequence number of [2]: the broker takes it for a retry of [2], answers OK and drops it
    expect(await lostAnswer('it-lostack-dup', [[3], [4]])).toEqual([0, 1, 2, 3, 4]);
  });

  it('a result too large to publish reaches the client as a failed result RESULT_TOO_LARGE naming size and limit', async () => {
    const prefix = fresh('it-bigres');
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'big-result-int' });
    const events: TransportEvent[] = [];
    transport.events$.subscribe((e) => events.push(e));
    const make = topology('make', { input: z.object({ n: z.number() }) }).map('make', { run: ({ input }) => 'x'.repeat(input.n) }).build({ output: 'make' });
    const engine = createEngine();
    const worker = createWorker({ engine, transport, topologies: [make], group: `${prefix}.w`, maxInFlight: 4, inbound: false });
    const client = createClient(transport);
    try {
      await worker.start();
      const r = await within(client.submit('make', { n: 1_200_000 }), 60_000, 'the result of the too-large run');
      expect(r.status).toBe('failed');
      const error = JSON.parse(r.error!) as { code: string; message: string };
      expect(error.code).toBe('RESULT_TOO_LARGE');
      expect(error.message).toMatch(/\d+ bytes/);
      expect(error.message).toMatch(/limit of 1000000 bytes/);
      expect(events).toContainEqual(expect.objectContaining({ type: 'publish.failed', topic: transport.topics.result, retriable: false }));
      // the worker goes on
      const ok = await within(client.submit('make', { n: 10 }), 60_000, 'a small result after the big one');
      expect(ok.status).toBe('completed');
      expect(JSON.parse(ok.output!)).toBe('x'.repeat(10));
    } finally {
      await client.close();
      await worker.stop();
      await engine.shutdown();
      await transport.close();
    }
  });
});

/** Collects a topic until `done` holds or `ms` passed; resolves with what arrived either way. */
function collect(transport: Transport, kind: 'token', done: (xs: readonly Envelope<TokenBatchMessage>[]) => boolean, ms: number): Promise<Envelope<TokenBatchMessage>[]> {
  return new Promise((resolve, reject) => {
    const xs: Envelope<TokenBatchMessage>[] = [];
    const sub = transport.read(kind, { fromBeginning: true }).subscribe({
      next: (x) => {
        xs.push(x);
        if (done(xs)) finish();
      },
      error: reject,
    });
    const timer = setTimeout(() => finish(), ms);
    function finish(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve(xs);
    }
  });
}

describe('producer faults on a private broker', () => {
  let broker: PrivateBroker | undefined;
  beforeAll(async () => {
    broker = await startPrivateBroker({ name: 'producer-faults' });
  }, 240_000);
  afterAll(async () => {
    await broker?.dispose();
  }, 120_000);

  it('two broker restarts under token load: every completed run\'s tokens are readable, the producer recovers, health goes red then green', async () => {
    const b = broker!;
    const prefix = uniquePrefix('it-restart');
    // few client retries: a send fails while the broker is away (red), the publisher's own retries bridge it
    const transport = createKafkaTransport({ brokers: [b.brokers], prefix, clientId: 'restart-int', retries: 2, connectionTimeoutMs: 1000 });
    const events: TransportEvent[] = [];
    transport.events$.subscribe((e) => events.push(e));
    const producerHealth: HealthStatus[] = [];
    transport.health.changes$.subscribe((r) => {
      const s = r.components.producer?.status;
      if (s !== undefined && producerHealth.at(-1) !== s) producerHealth.push(s);
    });
    const engine = createEngine();
    const board = createHealthBoard();
    const gen = topology('restart-tokens', { input: z.object({ q: z.string() }) })
      .llm('gen', { model: 'sim:default', maxTokens: 30, prompt: ({ input }) => `Question: ${input.q}` })
      .build({ output: 'gen' });
    await transport.ensureTopics();
    const publisher = publishEvents(engine.events$, transport, {
      logger: silentLogger, lifecycle: false, health: board, retries: 60, retryDelayMs: 100, maxRetryDelayMs: 1000,
    });
    const runs: RunResult[] = [];
    let load = true;
    const lane = async (i: number): Promise<void> => {
      for (let k = 0; load; k++) {
        await publisher.ready(); // admission backpressure, as the worker does
        runs.push(await engine.run(gen, { q: `lane ${i}, run ${k}` }));
      }
    };
    const lanes = Array.from({ length: 6 }, (_, i) => lane(i));
    const reader = createKafkaTransport({ brokers: [b.brokers], prefix, clientId: 'restart-int-reader' });
    try {
      await waitFor(() => runs.length >= 12, 'runs before the first restart', 60_000);
      await b.restart();
      let n = runs.length;
      await waitFor(() => runs.length >= n + 12, 'runs after the first restart', 120_000);
      await b.restart();
      n = runs.length;
      await waitFor(() => runs.length >= n + 12, 'runs after the second restart', 120_000);
      load = false;
      await Promise.all(lanes);
      await within(publisher.flush(), 120_000, 'the publisher flush');

      const completed = runs.filter((r) => r.status === 'completed');
      expect(completed.length).toBe(runs.length);
      const texts = new Map(completed.map((r) => [r.runId, (r.output as { text: string }).text]));
      const wanted = completed.reduce((s, r) => s + r.usage.outputTokens, 0);
      const seen = (xs: readonly Envelope<TokenBatchMessage>[]): number => new Set(xs.map((x) => `${x.value.runId}/${x.value.firstIndex}/${x.value.tokens.length}`)).size;
      const batches = await collect(reader, 'token', (xs) => seen(xs) >= wanted, 60_000);
      const byRun = new Map<string, Map<number, TokenBatchMessage>>();
      let duplicates = 0;
      for (const x of batches) {
        const m = byRun.get(x.value.runId) ?? new Map<number, TokenBatchMessage>();
        if (m.has(x.value.firstIndex)) duplicates++;
        m.set(x.value.firstIndex, x.value);
        byRun.set(x.value.runId, m);
      }
      const incomplete = [...texts].filter(([runId, text]) => {
        const m = byRun.get(runId);
        if (m === undefined) return true;
        let next = 0;
        let joined = '';
        for (const [first, batch] of [...m].sort((a, b2) => a[0] - b2[0])) {
          if (first !== next) return true;
          joined += batch.tokens.join('');
          next += batch.tokens.length;
        }
        return joined !== text;
      });
      process.stdout.write(`[measure] restarts ${JSON.stringify({
        runs: runs.length, batches: batches.length, duplicates, incomplete: incomplete.length, lost: publisher.lost,
        publishFailed: events.filter((e) => e.type === 'publish.failed').length,
        recreated: events.filter((e) => e.type === 'producer.recreated').map((e) => (e as { reason: string }).reason),
        producerHealth,
      })}\n`);
      expect(incomplete.map(([runId]) => runId)).toEqual([]);
      expect(publisher.lost).toBe(0);
      // red while the broker was away, green after
      expect(producerHealth).toContain('down');
      expect(producerHealth.at(-1)).toBe('up');
      expect(transport.health.report().status).toBe('up');
      expect(board.report().components.publisher?.status ?? 'up').toBe('up');
      expect(events.some((e) => e.type === 'publish.failed')).toBe(true);
    } finally {
      load = false;
      await Promise.allSettled(lanes);
      await publisher.close().catch(() => undefined);
      await engine.shutdown();
      await reader.close();
      await transport.close();
    }
  }, 600_000);
});
