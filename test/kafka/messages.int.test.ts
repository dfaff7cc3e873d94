// Every message kind through the Kafka transport and a real broker: send → read (fromBeginning)
// deep-equal, the schema headers on the wire, and schema evolution (v1 feedback read as v2).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Codec, createCodec, KIND_HEADER, SCHEMA_FILES, SCHEMA_HEADER } from '../../src/transports/codec.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { MESSAGE_KINDS, type FeedbackMessage, type MessageKind } from '../../src/transports/messages.ts';
import { deleteTopics, rawKafka, rawRead, readN, sampleMessages, uniquePrefix, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

describe.skipIf(!brokers)('Kafka transport: messages', () => {
  const kafka = rawKafka(brokers ?? '', 'messages-int');
  const prefix = uniquePrefix('it-msg');
  const transport = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'messages-int' });
  const samples = sampleMessages();
  const codec = createCodec();

  beforeAll(async () => {
    await transport.ensureTopics();
    await waitForTopics(brokers!, Object.values(transport.topics));
  });

  afterAll(async () => {
    await transport.close();
    await deleteTopics(kafka, prefix);
  });

  it('creates one topic per kind under the prefix, 6 partitions each', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: MESSAGE_KINDS.map((k) => transport.topics[k]) });
      expect(meta.topics.map((t) => t.name).sort()).toEqual(MESSAGE_KINDS.map((k) => `${prefix}.${transport.topics[k].slice(prefix.length + 1)}`).sort());
      for (const t of meta.topics) expect(t.partitions).toHaveLength(6);
    } finally {
      await admin.disconnect();
    }
  });

  it('round-trips every kind: send, then read from the beginning gives the value back deep-equal', async () => {
    // All sends first, then the reads in parallel: one group join per kind.
    for (const kind of MESSAGE_KINDS) await transport.send(kind, [{ key: `key-${kind}`, value: samples[kind] }]);
    const read = await Promise.all(MESSAGE_KINDS.map(async (kind) => [kind, await readN(transport, kind, 1)] as const));
    for (const [kind, [m, ...rest]] of read) {
      expect(rest, kind).toEqual([]);
      expect(m!.key, kind).toBe(`key-${kind}`);
      expect(m!.value, kind).toEqual(samples[kind]);
      expect(m!.offset, kind).toBe('0');
    }
  });

  it('labels every record with the llmo-schema fingerprint and llmo-kind headers', async () => {
    const topics = MESSAGE_KINDS.map((k) => transport.topics[k]);
    const records = await rawRead(kafka, topics, MESSAGE_KINDS.length);
    expect(records).toHaveLength(MESSAGE_KINDS.length);
    for (const r of records) {
      const kind = MESSAGE_KINDS.find((k) => transport.topics[k] === r.topic)!;
      expect(r.headers[SCHEMA_HEADER], kind).toBe(codec.fingerprint(kind));
      expect(r.headers[SCHEMA_HEADER], kind).toMatch(/^[0-9a-f]{64}$/);
      expect(r.headers[KIND_HEADER], kind).toBe(kind);
      expect(r.key).toBe(`key-${kind}`);
      // The value is exactly the Avro encoding of the current schema.
      expect(codec.decode(kind, r.value, r.headers)).toEqual({ ok: true, value: samples[kind] });
    }
  });

  it('keeps the order of one key (one partition) across sends', async () => {
    const runId = 'ordered-run';
    const batches = Array.from({ length: 60 }, (_, i) => ({ key: runId, value: { ...samples.token, runId, firstIndex: i, tokens: [`t${i}`] } }));
    await transport.send('token', batches.slice(0, 30));
    await transport.send('token', batches.slice(30));
    const got = (await readN(transport, 'token', 61)).filter((m) => m.key === runId);
    expect(got.map((m) => m.value.firstIndex)).toEqual(batches.map((_, i) => i));
    expect(new Set(got.map((m) => m.partition)).size).toBe(1);
  });

  it('schema evolution: feedback written with the v1 schema reads with the v2 reader as comment: null', async () => {
    const p2 = uniquePrefix('it-evo');
    const v1Codec = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] });
    const writerV1 = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix: p2, clientId: 'evo-v1', codec: v1Codec });
    const readerV2 = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix: p2, clientId: 'evo-v2' });
    try {
      const { comment: _c, label: _l, ...v1Value } = samples.feedback;
      // A v1 writer has no `comment` field at all.
      await writerV1.send('feedback', [{ key: 'fb', value: { ...v1Value, feedbackId: 'old' } as unknown as FeedbackMessage }]);
      await readerV2.send('feedback', [{ key: 'fb', value: { ...samples.feedback, feedbackId: 'new' } }]);
      const got = await readN(readerV2, 'feedback', 2);
      expect(got.map((m) => m.value)).toEqual([
        { ...v1Value, feedbackId: 'old', comment: null, label: null },
        { ...samples.feedback, feedbackId: 'new' },
      ]);
      const raw = await rawRead(kafka, [readerV2.topics.feedback], 2);
      const fps = raw.sort((a, b) => Number(a.offset) - Number(b.offset)).map((r) => r.headers[SCHEMA_HEADER]);
      expect(fps).toEqual([v1Codec.fingerprint('feedback'), codec.fingerprint('feedback')]);
      expect(fps[0]).not.toBe(fps[1]);
      // The v1-only reader cannot read v2 data: it does not know that fingerprint (read skips it).
      const oldReader = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix: p2, clientId: 'evo-v1-reader', codec: v1Codec });
      try {
        const old = await readN(oldReader, 'feedback', 1);
        expect(old.map((m) => m.value.feedbackId)).toEqual(['old']);
      } finally {
        await oldReader.close();
      }
    } finally {
      await writerV1.close();
      await readerV2.close();
      await deleteTopics(kafka, p2);
    }
  });

  it('read from now (fromBeginning: false) gets only what is sent after it joined', async () => {
    const kind: MessageKind = 'audit';
    const seen: string[] = [];
    const sub = transport.read(kind, { fromBeginning: false }).subscribe((m) => seen.push(m.key));
    // The reader has joined once it has partitions: probe with messages until one shows up.
    const deadline = Date.now() + 30_000;
    let probes = 0;
    while (seen.length === 0 && Date.now() < deadline) {
      await transport.send(kind, [{ key: `probe-${probes++}`, value: samples.audit }]);
      await new Promise((r) => setTimeout(r, 200));
    }
    sub.unsubscribe();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain('key-audit');
    expect(seen.every((k) => k.startsWith('probe-'))).toBe(true);
  });
});
