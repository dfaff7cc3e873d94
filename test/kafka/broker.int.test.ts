// Smoke test of the broker that test/kafka/global-setup.ts provides: topics, keyed produce, group consume.
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// '' when no broker could be had outside CI; undefined when run without vitest.int.config.ts.
const brokers: string | undefined = inject('kafkaBrokers');

describe.skipIf(!brokers)('Kafka broker (kafkajs)', () => {
  const kafka = new Kafka({
    clientId: 'broker-int-test',
    brokers: (brokers ?? '').split(','),
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  const suffix = randomUUID().slice(0, 8);
  const topic = `smoke-${suffix}`;
  const groupId = `smoke-group-${suffix}`;
  const KEYS = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
  const COUNT = 100;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('describes a single-node cluster', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.controller).toBe(cluster.brokers[0]!.nodeId);
    expect(cluster.clusterId).toMatch(/^[\w-]{22}$/);
  });

  it('keeps per-key order across a consumer group on a 3-partition topic', async () => {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(meta!.partitions).toHaveLength(3);

    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    const messages = Array.from({ length: COUNT }, (_, seq) => {
      const key = KEYS[seq % KEYS.length]!;
      return { key, value: JSON.stringify({ key, seq }) };
    });
    // Two sends, so order has to hold across produce requests too.
    await producer.send({ topic, acks: -1, messages: messages.slice(0, COUNT / 2) });
    await producer.send({ topic, acks: -1, messages: messages.slice(COUNT / 2) });

    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(COUNT);

    const received: { key: string; seq: number; partition: number; offset: bigint }[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const body = JSON.parse(message.value!.toString()) as { key: string; seq: number };
        expect(message.key!.toString()).toBe(body.key);
        received.push({ ...body, partition, offset: BigInt(message.offset) });
        if (received.length >= COUNT) resolveAll();
      },
    });
    await all;

    expect(received).toHaveLength(COUNT);
    expect(new Set(received.map((m) => m.seq)).size).toBe(COUNT);
    const partitionsUsed = new Set<number>();
    for (const key of KEYS) {
      const mine = received.filter((m) => m.key === key);
      expect(mine).toHaveLength(COUNT / KEYS.length);
      // one key, one partition
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
      partitionsUsed.add(mine[0]!.partition);
      // produced order == consumed order == offset order
      const seqs = mine.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const offs = mine.map((m) => m.offset);
      expect(offs).toEqual([...offs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    // murmur2 spreads these five keys over more than one partition
    expect(partitionsUsed.size).toBeGreaterThan(1);

    // The group committed what it consumed once the consumer leaves.
    await consumer.disconnect();
    consumer = undefined;
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed!.partitions.reduce((n, p) => n + Number(p.offset), 0)).toBe(COUNT);
  });
});
