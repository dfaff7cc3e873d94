// The sending side under faults, on the shared broker: a produce the broker wrote but whose answer was
// lost does not wedge the idempotent producer (later sends refused as out of order, or dropped as
// duplicates): the producer is replaced. The oversize record, the result too large to publish and the
// broker restarts under token load are in the fault suite (fault-suite.int.test.ts), with worker processes.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCodec } from '../../src/transports/codec.ts';
import { createHealthBoard, type TransportEvent } from '../../src/transports/health.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createSender } from '../../src/transports/kafka/producer.ts';
import type { TokenBatchMessage } from '../../src/transports/messages.ts';
import type { Envelope, Transport } from '../../src/transports/transport.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { deleteTopics, rawKafka, uniquePrefix, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const brokerList = (brokers ?? '').split(',');

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
  afterAll(async () => {
    for (const p of prefixes) await deleteTopics(kafka, p);
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
