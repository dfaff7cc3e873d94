// Avro single-object encoding through a real broker. What the transport writes is read back raw and
// decoded by an independent reader written from the Avro spec (its own bit-by-bit CRC-64-AVRO, plain
// avsc with the schema file), as a reader in another language would; records that a foreign producer
// writes in single-object encoding (no headers) are consumed by a transport that itself writes the
// llmo framing, and older (v1) writers are resolved to v2.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Codec, SCHEMA_FILES, SCHEMA_HEADER } from '../../src/transports/codec.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { MESSAGE_KINDS, type FeedbackMessage } from '../../src/transports/messages.ts';
import { deleteTopics, rawKafka, rawProducer, rawRead, sampleMessages, uniquePrefix, waitFor, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

/** The spec's fingerprint algorithm, bit by bit (no table), so it shares no code with src/transports/crc64.ts. */
function specRabin(text: string): bigint {
  const POLY = 0xc15d213aa4d7a795n;
  let fp = POLY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp ^= BigInt(byte);
    for (let i = 0; i < 8; i++) fp = (fp >> 1n) ^ (POLY & -(fp & 1n));
  }
  return fp;
}

/** A reader that knows only the spec and the schema files: marker, fingerprint lookup, plain avsc. */
function independentDecode(schemaFiles: readonly string[], bytes: Buffer): unknown {
  if (bytes[0] !== 0xc3 || bytes[1] !== 0x01) throw new Error(`not single-object: ${bytes.subarray(0, 2).toString('hex')}`);
  const fp = bytes.readBigUInt64LE(2);
  for (const file of schemaFiles) {
    const type = avro.Type.forSchema(JSON.parse(readFileSync(new URL(`../../src/transports/schemas/${file}`, import.meta.url), 'utf8')) as avro.Schema);
    if (specRabin(JSON.stringify(type.schema())) === fp) return type.fromBuffer(bytes.subarray(10));
  }
  throw new Error(`no schema file with fingerprint ${fp.toString(16)}`);
}

describe.skipIf(!brokers)('Kafka transport: Avro single-object encoding', () => {
  const kafka = rawKafka(brokers ?? '', 'wire-int');
  const prefix = uniquePrefix('it-wire');
  const writer = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'wire-int-so', wireFormat: 'single-object' });
  const reader = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'wire-int-llmo' });
  const samples = sampleMessages();

  beforeAll(async () => {
    await writer.ensureTopics();
    await waitForTopics(brokers!, Object.values(writer.topics));
  });

  afterAll(async () => {
    await writer.close();
    await reader.close();
    await deleteTopics(kafka, prefix);
  });

  it('every kind goes out as C3 01 + CRC-64-AVRO + Avro body, which a spec-only reader decodes to the value sent', async () => {
    for (const kind of MESSAGE_KINDS) await writer.send(kind, [{ key: `key-${kind}`, value: samples[kind] }]);
    const records = await rawRead(kafka, MESSAGE_KINDS.map((k) => writer.topics[k]), MESSAGE_KINDS.length);
    expect(records).toHaveLength(MESSAGE_KINDS.length);
    for (const r of records) {
      const kind = MESSAGE_KINDS.find((k) => writer.topics[k] === r.topic)!;
      expect(r.headers[SCHEMA_HEADER], kind).toBeUndefined();
      expect(independentDecode(SCHEMA_FILES[kind], r.value!), kind).toEqual(samples[kind]);
    }
  });

  it('a foreign producer\'s single-object records (no headers, v1 and v2 feedback) are consumed by an llmo-writing transport', async () => {
    const v1 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc'] }, undefined, { wireFormat: 'single-object' });
    const v2 = new Codec(SCHEMA_FILES, undefined, { wireFormat: 'single-object' });
    const { comment: _dropped, label: _label, ...v1Value } = samples.feedback;
    const producer = await rawProducer(kafka);
    try {
      await producer.send({
        topic: reader.topics.feedback,
        messages: [
          { key: 'run-1', value: v1.encode('feedback', v1Value as unknown as FeedbackMessage).value },
          { key: 'run-1', value: v2.encode('feedback', { ...samples.feedback, feedbackId: 'fb-2' }).value },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const seen: unknown[] = [];
    const c = await reader.consume('feedback', { group: `${prefix}.g`, maxInFlight: 4 }, async (m) => { seen.push(m.value); });
    try {
      await waitFor(() => seen.length >= 3, 'three feedback records consumed', 60_000);
    } finally {
      await c.stop();
    }
    // the writer's v2 record of the first test, then the foreign v1 (comment filled with null) and v2
    expect(seen).toHaveLength(3);
    expect(seen).toEqual(expect.arrayContaining([samples.feedback, { ...v1Value, comment: null, label: null }, { ...samples.feedback, feedbackId: 'fb-2' }]));
  });
});
