// The Kafka transport's own setup on a real broker: ensureTopics returns only once every partition of
// every topic has a leader that serves it (so a producer and a group consumer right after creation never
// see "This server does not host this topic-partition"), concurrent creators on one prefix are fine, and a
// group consumption holds at most maxInFlight handlers.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaTransport, type KafkaTransport } from '../../src/transports/kafka/index.ts';
import { MESSAGE_KINDS, type AuditMessage } from '../../src/transports/messages.ts';
import { deleteTopics, rawKafka, readN, uniquePrefix, waitFor } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

describe.skipIf(!brokers)('Kafka transport: topics and consumption', () => {
  const kafka = rawKafka(brokers ?? '', 'transport-int');
  const prefixes: string[] = [];
  const transports: KafkaTransport[] = [];
  const make = (prefix: string, clientId: string, partitions = 3): KafkaTransport => {
    const t = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId, partitions });
    transports.push(t);
    return t;
  };
  const audit = (i: number): { key: string; value: AuditMessage } => ({ key: `run-${i % 5}`, value: { ts: i, actor: 'it', action: `a${i}`, runId: null, details: '{}' } });

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    for (const p of prefixes) await deleteTopics(kafka, p);
  });

  it('ensureTopics: when it resolves, every partition of every topic has a leader that answers', async () => {
    const prefix = uniquePrefix('it-topics');
    prefixes.push(prefix);
    const t = make(prefix, 'topics-int', 4);
    await t.ensureTopics();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: MESSAGE_KINDS.map((k) => t.topics[k]) });
      expect(topics).toHaveLength(MESSAGE_KINDS.length);
      for (const topic of topics) {
        expect(topic.partitions, topic.name).toHaveLength(4);
        for (const p of topic.partitions) expect({ leader: p.leader >= 0, error: p.partitionErrorCode }, `${topic.name}[${p.partitionId}]`).toEqual({ leader: true, error: 0 });
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('two transports creating the same topics at once both succeed; send and consume work right after', async () => {
    const prefix = uniquePrefix('it-race');
    prefixes.push(prefix);
    const a = make(prefix, 'race-a');
    const b = make(prefix, 'race-b');
    await Promise.all([a.ensureTopics(), b.ensureTopics()]);
    await a.send('audit', Array.from({ length: 20 }, (_, i) => audit(i)));
    const got = await readN(b, 'audit', 20);
    expect(got.map((m) => m.value.action).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`).sort());
  });

  it('a group consumption right after creation sees every message, at most maxInFlight at once', async () => {
    const prefix = uniquePrefix('it-consume');
    prefixes.push(prefix);
    const t = make(prefix, 'consume-int');
    let running = 0;
    let most = 0;
    const seen = new Set<string>();
    const c = await t.consume('audit', { group: `${prefix}.g`, maxInFlight: 3 }, async (m) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      seen.add(m.value.action);
      running--;
    });
    await t.send('audit', Array.from({ length: 60 }, (_, i) => audit(i)));
    await waitFor(() => seen.size === 60, '60 audit messages handled');
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
    await c.stop();
    expect(c.inFlight).toBe(0);
  });
});
