// Dead letters that fit: the payload is cut to the bytes left after the metadata, so the encoded record is
// never over maxMessageBytes; small records go whole; v1 dead letters still read (truncated false); a refusal
// as too large falls back to the metadata alone; every dead letter written is an event.
import avro from 'avsc';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../errors.ts';
import { Codec, createCodec, loadSchema, SCHEMA_FILES } from '../codec.ts';
import type { TransportEvent } from '../health.ts';
import type { DeadLetterMessage } from '../messages.ts';
import { buildDeadLetter, createDeadLetterer, type BuiltDeadLetter } from './dead-letter.ts';
import { recordBytes } from './producer.ts';

const codec = createCodec();
const message = (value: Buffer | null, key = 'k-1', headers: Record<string, string> = { 'llmo-kind': 'feedback' }): KafkaMessage =>
  ({ key: Buffer.from(key), value, headers, offset: '42', timestamp: '0', attributes: 0 }) as KafkaMessage;
const sizeOf = (dl: BuiltDeadLetter): number => {
  const e = codec.encode('deadLetter', dl.value);
  return recordBytes(dl.key, e.value, e.headers);
};

describe('buildDeadLetter', () => {
  it('keeps a small record whole (truncated false, originalSize its length)', () => {
    const dl = buildDeadLetter({ topic: 'p.feedback', partition: 3, message: message(Buffer.from('abc')), reason: 'bad' }, { codec, maxMessageBytes: 10_000, now: () => 7 });
    expect(dl.key).toBe('k-1');
    expect(dl.value).toMatchObject({ topic: 'p.feedback', partition: 3, offset: '42', reason: 'bad', truncated: false, originalSize: 3, ts: 7, headers: { 'llmo-kind': 'feedback' } });
    expect(dl.value.value!.toString()).toBe('abc');
  });

  it.each([4096, 10_000, 100_000, 1_000_000])('cuts a payload over the limit to fit exactly under maxMessageBytes = %i', (limit) => {
    const payload = Buffer.alloc(limit + 1234, 7);
    const dl = buildDeadLetter({ topic: 'p.feedback', partition: 0, message: message(payload), reason: 'cannot decode feedback: x' }, { codec, maxMessageBytes: limit });
    expect(dl.value.truncated).toBe(true);
    expect(dl.value.originalSize).toBe(payload.length);
    expect(sizeOf(dl)).toBeLessThanOrEqual(limit);
    expect(sizeOf(dl)).toBeGreaterThan(limit - 16); // the payload takes what is left
    expect(dl.value.value!.equals(payload.subarray(0, dl.value.value!.length))).toBe(true);
  });

  it('caps a huge key, headers and reason, and says truncated', () => {
    const headers = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`h${i}`, 'v'.repeat(1000)]));
    const dl = buildDeadLetter({ topic: 't', partition: 0, message: message(Buffer.from('x'), 'K'.repeat(50_000), headers), reason: 'r'.repeat(100_000) }, { codec, maxMessageBytes: 40_000 });
    expect(dl.value.truncated).toBe(true);
    expect(sizeOf(dl)).toBeLessThanOrEqual(40_000);
    expect(dl.value.key!.length).toBeLessThan(50_000);
    expect(dl.value.reason.length).toBeLessThan(100_000);
  });

  it('metadataOnly leaves the payload out', () => {
    const dl = buildDeadLetter({ topic: 't', partition: 0, message: message(Buffer.from('abc')), reason: 'r' }, { codec, maxMessageBytes: 10_000, metadataOnly: true });
    expect(dl.value).toMatchObject({ value: null, truncated: true, originalSize: 3 });
  });
});

describe('dead-letter schema v2', () => {
  it('v1 dead letters still read, with truncated false and originalSize null', () => {
    const v1 = new Codec({ ...SCHEMA_FILES, deadLetter: ['dead-letter.v1.avsc'] });
    const old: DeadLetterMessage = { topic: 't', partition: 1, offset: '2', reason: 'r', key: null, value: Buffer.from('x'), headers: {}, ts: 3 };
    const e = v1.encode('deadLetter', old);
    const d = codec.decode('deadLetter', e.value, e.headers);
    expect(d).toMatchObject({ ok: true, value: { ...old, truncated: false, originalSize: null } });
  });

  it('an old (v1) reader can resolve v2 data (the new fields have defaults)', () => {
    const v1 = avro.Type.forSchema(loadSchema('dead-letter.v1.avsc'));
    const v2 = avro.Type.forSchema(loadSchema('dead-letter.v2.avsc'));
    const buf = v2.toBuffer({ topic: 't', partition: 1, offset: '2', reason: 'r', key: null, value: null, headers: {}, ts: 3, truncated: true, originalSize: 99 });
    expect(v1.fromBuffer(buf, v1.createResolver(v2))).toMatchObject({ topic: 't', reason: 'r' });
  });
});

describe('createDeadLetterer', () => {
  it('sends the dead letter and emits dead-lettered', async () => {
    const sent: BuiltDeadLetter[][] = [];
    const events: TransportEvent[] = [];
    const dead = createDeadLetterer({ send: async (m) => { sent.push([...m]); }, codec, maxMessageBytes: 5000, emit: (e) => events.push(e) });
    await dead('p.feedback', 2, message(Buffer.alloc(9000, 1)), 'cannot decode');
    expect(sent).toHaveLength(1);
    expect(sent[0]![0]!.value.truncated).toBe(true);
    expect(events).toEqual([expect.objectContaining({ type: 'dead-lettered', topic: 'p.feedback', partition: 2, offset: '42', reason: 'cannot decode', truncated: true })]);
  });

  it('falls back to the metadata alone when the broker still refuses it as too large; rejects when that fails too', async () => {
    const sent: BuiltDeadLetter[] = [];
    const tooLarge = new OrchestratorError('KAFKA_RECORD_TOO_LARGE', 'too large', { retriable: false });
    const dead = createDeadLetterer({
      send: async (m) => { sent.push(m[0]!); if (m[0]!.value.value !== null) throw tooLarge; }, codec, maxMessageBytes: 5000, emit: () => undefined,
    });
    await dead('t', 0, message(Buffer.from('abc')), 'r');
    expect(sent.map((d) => d.value.value?.length ?? null)).toEqual([3, null]);
    const failing = createDeadLetterer({ send: async () => { throw tooLarge; }, codec, maxMessageBytes: 5000, emit: () => undefined });
    await expect(failing('t', 0, message(Buffer.from('abc')), 'r')).rejects.toBe(tooLarge);
    const down = new OrchestratorError('KAFKA_UNREACHABLE', 'no broker', { retriable: true });
    let calls = 0;
    const unreachable = createDeadLetterer({ send: async () => { calls++; throw down; }, codec, maxMessageBytes: 5000, emit: () => undefined });
    await expect(unreachable('t', 0, message(Buffer.from('abc')), 'r')).rejects.toBe(down);
    expect(calls).toBe(1); // no fallback for a failure that is not about size
  });
});
