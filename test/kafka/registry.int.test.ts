// The Confluent Schema Registry wire format through a real broker, against a STAND-IN registry.
//
// Why a stand-in: the brief was a real Apicurio Registry 3.x from Maven Central (its /apis/ccompat/v7 API).
// It cannot be built on this machine: io.apicurio:apicurio-registry-app:3.3.3 depends on
// apicurio-registry-schema-util-provider:3.3.3 and apicurio-registry-contracts-rules:3.3.3, which the
// Maven Central mirror here does not serve; the 3.3.2 and 3.0.9 app POMs name parent POMs it does not serve
// either, and 2.6.13.Final misses schema-util-provider too (Docker, for the container image, has no engine
// here). So registry-standin.ts implements the five ccompat endpoints the client library calls, in memory,
// with Confluent's status codes. What is real here: the broker, the HTTP client library
// (@kafkajs/confluent-schema-registry, which also serves as the independent encoder/decoder), the wire bytes.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSchema } from '../../src/transports/codec.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { MESSAGE_KINDS } from '../../src/transports/messages.ts';
import { startStandInRegistry, type StandInRegistry } from './registry-standin.ts';
import { deleteTopics, rawKafka, rawProducer, rawRead, readUntil, sampleMessages, uniquePrefix, waitFor, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

describe.skipIf(!brokers)('Kafka transport: schema-registry wire format (stand-in registry)', () => {
  const kafka = rawKafka(brokers ?? '', 'registry-int');
  const prefix = uniquePrefix('it-reg');
  const samples = sampleMessages();
  let registry: StandInRegistry;
  let writer: ReturnType<typeof createKafkaTransport>;
  let reader: ReturnType<typeof createKafkaTransport>;

  beforeAll(async () => {
    registry = await startStandInRegistry();
    const base = { brokers: (brokers ?? '').split(','), prefix, schemaRegistry: { url: registry.url } };
    writer = createKafkaTransport({ ...base, clientId: 'registry-int-w', wireFormat: 'schema-registry' });
    reader = createKafkaTransport({ ...base, clientId: 'registry-int-r' }); // writes llmo, reads all three
    await writer.ensureTopics();
    await waitForTopics(brokers!, Object.values(writer.topics));
  });

  afterAll(async () => {
    await writer.close();
    await reader.close();
    await registry.close();
    await deleteTopics(kafka, prefix);
  });

  it('the ready step registers every kind under <topic>-value; records are 00 + schema id + body, and the client library decodes them', async () => {
    expect([...registry.subjects.keys()].sort()).toEqual(MESSAGE_KINDS.map((k) => `${writer.topics[k]}-value`).sort());
    const fbId = registry.subjects.get(`${writer.topics.feedback}-value`)![0]!;
    expect(JSON.parse(registry.schemas.get(fbId)!)).toEqual(loadSchema('feedback.v3.avsc')); // as written: defaults kept
    for (const kind of MESSAGE_KINDS) await writer.send(kind, [{ key: `key-${kind}`, value: samples[kind] }]);
    const records = await rawRead(kafka, MESSAGE_KINDS.map((k) => writer.topics[k]), MESSAGE_KINDS.length);
    const library = new SchemaRegistry({ host: registry.url });
    for (const r of records) {
      const kind = MESSAGE_KINDS.find((k) => writer.topics[k] === r.topic)!;
      expect(r.value![0], kind).toBe(0);
      expect(registry.subjects.get(`${r.topic}-value`), kind).toEqual([r.value!.readUInt32BE(1)]);
      expect(await library.decode(r.value!), kind).toEqual(samples[kind]);
    }
  });

  it('a transport that has not seen the ids fetches each once and reads every kind back', async () => {
    const before = registry.requests.filter((q) => q.startsWith('GET /schemas/ids/')).length;
    const got = await Promise.all(MESSAGE_KINDS.map(async (kind) => [kind, await readUntil(reader.read(kind, { fromBeginning: true }), (xs) => xs.length >= 1, 60_000)] as const));
    for (const [kind, [m]] of got) expect(m!.value, kind).toEqual(samples[kind]);
    expect(registry.requests.filter((q) => q.startsWith('GET /schemas/ids/')).length - before).toBe(MESSAGE_KINDS.length);
  });

  it('a foreign producer\'s v1 feedback (registered and encoded by the client library) is consumed as v2; an unknown id is dead-lettered', async () => {
    const library = new SchemaRegistry({ host: registry.url });
    const { id: v1Id } = await library.register({ type: SchemaType.AVRO, schema: JSON.stringify(loadSchema('feedback.v1.avsc')) }, { subject: `${reader.topics.feedback}-value` });
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const foreign = await library.encode(v1Id, { ...v1Value, feedbackId: 'fb-v1' });
    const unknown = Buffer.concat([Buffer.from([0, 0, 0, 0x10, 0x92]), foreign.subarray(5)]); // id 4242
    const producer = await rawProducer(kafka);
    try {
      await producer.send({ topic: reader.topics.feedback, messages: [{ key: 'run-1', value: foreign }, { key: 'run-1', value: unknown }] });
    } finally {
      await producer.disconnect();
    }
    const seen: unknown[] = [];
    const c = await reader.consume('feedback', { group: `${prefix}.fb`, maxInFlight: 4 }, async (m) => { seen.push(m.value); });
    try {
      // (the dead-letter topic also holds the sample dead letter the first test sent)
      const mine = <T extends { value: { topic: string } }>(xs: readonly T[]): T[] => xs.filter((x) => x.value.topic === reader.topics.feedback);
      const dead = mine(await readUntil(reader.read('deadLetter', { fromBeginning: true }), (xs) => mine(xs).length >= 1, 60_000));
      expect(dead.map((d) => [d.value.reason, d.value.value])).toEqual([['unknown schema id 4242: not in the schema registry', unknown]]);
      await waitFor(() => seen.length >= 2, 'two feedback records consumed', 60_000);
    } finally {
      await c.stop();
    }
    expect(seen).toEqual(expect.arrayContaining([samples.feedback, { ...v1Value, feedbackId: 'fb-v1', comment: null, label: null }]));
    expect(seen).toHaveLength(2);
  });

  it('a record whose schema cannot be fetched while the registry is down is not dead-lettered: it is consumed once the registry answers', async () => {
    // same key, same partition, in this order: an llmo sentinel, then the schema-registry record
    await reader.send('policy', [{ key: 'pol-late', value: { ...samples.policy, policyId: 'sentinel' } }]);
    await writer.send('policy', [{ key: 'pol-late', value: { ...samples.policy, policyId: 'pol-late' } }]);
    // a transport that has never seen the policy id, reading while the registry is down
    const late = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'registry-int-late', schemaRegistry: { url: registry.url } });
    await registry.pause();
    const seen: string[] = [];
    try {
      const c = await late.consume('policy', { group: `${prefix}.late`, maxInFlight: 4 }, async (m) => { seen.push(m.value.policyId); });
      try {
        await waitFor(() => seen.includes('sentinel'), 'the sentinel consumed (the consumer reached the partition)', 60_000);
        await new Promise((r) => setTimeout(r, 3_000)); // fetch attempts for the next record fail meanwhile
        expect(seen.filter((id) => id !== 'sentinel' && id !== samples.policy.policyId)).toEqual([]);
        await registry.resume();
        await waitFor(() => seen.includes('pol-late'), 'the policy consumed after the registry came back', 90_000);
      } finally {
        await c.stop();
      }
    } finally {
      await registry.resume().catch(() => undefined);
      await late.close();
    }
    const mine = <T extends { value: { topic: string } }>(xs: readonly T[]): T[] => xs.filter((x) => x.value.topic === writer.topics.policy);
    const all = await readUntil(reader.read('deadLetter', { fromBeginning: true }), (xs) => xs.length >= 2, 30_000);
    expect(mine(all)).toEqual([]);
  });

  it('with the registry out of reach, send rejects with a retriable SCHEMA_REGISTRY_UNAVAILABLE; once it answers, the next send goes through', async () => {
    const down = await startStandInRegistry();
    const url = down.url;
    await down.close();
    const t = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'registry-int-down', wireFormat: 'schema-registry', schemaRegistry: { url } });
    try {
      await expect(t.send('audit', [{ key: 'a', value: samples.audit }])).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', retriable: true });
      const up = await startStandInRegistry(Number(new URL(url).port));
      try {
        await t.send('audit', [{ key: 'a', value: { ...samples.audit, actor: 'after' } }]);
        expect(up.subjects.has(`${t.topics.audit}-value`)).toBe(true);
      } finally {
        await up.close();
      }
    } finally {
      await t.close();
    }
  });
});
