// The sender against a kafkajs-shaped fake producer: a producer whose id the broker no longer accepts
// (KafkaJSProtocolError OUT_OF_ORDER_SEQUENCE_NUMBER, wrapped as kafkajs's retrier does) is replaced and the
// send tried again, bounded; health and events say what happened; too-large records fail clearly; a send is
// split into requests under the size limit, in order.
import { KafkaJSNonRetriableError, KafkaJSProtocolError, type Kafka, type ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isOrchestratorError } from '../../errors.ts';
import { createCodec } from '../codec.ts';
import { createHealthBoard, type TransportEvent } from '../health.ts';
import { topicNames } from '../transport.ts';
import { createSender, kafkaErrorType, PRODUCER_STATE_ERRORS } from './producer.ts';

/** A protocol error as kafkajs's retrier rethrows it: a KafkaJSNonRetriableError caused by the KafkaJSProtocolError. */
function protocolError(type: string, code: number): Error {
  const p = new KafkaJSProtocolError({ message: `broker said ${type}`, type, code, retriable: false } as unknown as Error);
  return new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(p, { cause: p });
}

interface FakeProducer {
  readonly sends: ProducerRecord[];
  disconnected: boolean;
}

/** A fake kafkajs whose producers run `behave(producer index, send index)`: an error to throw, or nothing (success). */
function fakeKafka(behave: (producer: number, send: number) => Error | undefined) {
  const producers: FakeProducer[] = [];
  const kafka = {
    producer: () => {
      const i = producers.length;
      const p: FakeProducer = { sends: [], disconnected: false };
      producers.push(p);
      return {
        connect: async () => undefined,
        disconnect: async () => { p.disconnected = true; },
        send: async (r: ProducerRecord) => {
          const e = behave(i, p.sends.length);
          p.sends.push(r);
          if (e !== undefined) throw e;
          return [];
        },
      };
    },
  } as unknown as Pick<Kafka, 'producer'>;
  return { kafka, producers };
}

const topics = topicNames('t');
const audit = (n: number, details = '{}') => ({ key: `k${n}`, value: { ts: n, actor: 'a', action: 'x', runId: null, details } });

function setup(behave: (producer: number, send: number) => Error | undefined, extra: { maxMessageBytes?: number; recreateAttempts?: number } = {}) {
  const fake = fakeKafka(behave);
  const health = createHealthBoard();
  const events: TransportEvent[] = [];
  const sender = createSender({ kafka: fake.kafka, topics, codec: createCodec(), topicsReady: async () => undefined, health, emit: (e) => events.push(e), ...extra });
  return { ...fake, health, events, sender };
}

describe('createSender under producer-state errors', () => {
  it('finds the protocol error type through kafkajs wrappers and aggregates', () => {
    expect(kafkaErrorType(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45), PRODUCER_STATE_ERRORS)).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(kafkaErrorType({ errors: [new Error('x'), protocolError('UNKNOWN_PRODUCER_ID', 59)] }, PRODUCER_STATE_ERRORS)).toBe('UNKNOWN_PRODUCER_ID');
    expect(kafkaErrorType(protocolError('NOT_LEADER_FOR_PARTITION', 6), PRODUCER_STATE_ERRORS)).toBeUndefined();
  });

  it.each(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'])(
    '%s: replaces the producer (the old one disconnected), sends again, emits producer.recreated, health back up', async (type) => {
      const s = setup((producer) => (producer === 0 ? protocolError(type, 45) : undefined));
      const statuses: string[] = [];
      s.health.changes$.subscribe((r) => statuses.push(r.components.producer?.status ?? '-'));
      await s.sender.send('audit', [audit(1), audit(2)]);
      expect(s.producers).toHaveLength(2);
      expect(s.producers[0]!.disconnected).toBe(true);
      expect(s.producers[1]!.sends.map((r) => r.messages.map((m) => m.key))).toEqual([['k1', 'k2']]);
      expect(s.events).toEqual([expect.objectContaining({ type: 'producer.recreated', reason: expect.stringContaining(type) })]);
      expect(statuses).toContain('degraded');
      expect(s.health.report().components.producer?.status).toBe('up');
      await s.sender.send('audit', [audit(3)]); // the new producer stays
      expect(s.producers).toHaveLength(2);
    });

  it('gives up after recreateAttempts replacements: rejects with an OrchestratorError, publish.failed, health down', async () => {
    const s = setup(() => protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45), { recreateAttempts: 2 });
    const e = await s.sender.send('audit', [audit(1)]).then(() => undefined, (x: unknown) => x);
    expect(isOrchestratorError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'KAFKA_FAILED', retriable: true });
    expect((e as Error).cause).toBeInstanceOf(Error);
    expect(s.producers).toHaveLength(3);
    // twice to retry, once more after giving up (the next send starts with a new producer)
    expect(s.events.filter((x) => x.type === 'producer.recreated')).toHaveLength(3);
    expect(s.events.at(-1)).toMatchObject({ type: 'publish.failed', topic: topics.audit, messages: 1, retriable: true });
    expect(s.health.report().components.producer).toMatchObject({ status: 'down', reason: expect.stringContaining('OUT_OF_ORDER_SEQUENCE_NUMBER') });
    // the next send that works turns it green
    const t = setup((producer) => (producer < 3 ? protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45) : undefined), { recreateAttempts: 2 });
    await expect(t.sender.send('audit', [audit(1)])).rejects.toMatchObject({ code: 'KAFKA_FAILED' });
    expect(t.health.report().status).toBe('down');
    await t.sender.send('audit', [audit(2)]);
    expect(t.health.report().status).toBe('up');
  });

  it('any other failure escapes at once (publish.failed, health down); its outcome is unknown, so the next send uses a new producer', async () => {
    const conn = Object.assign(new Error('Connection error: ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    const s = setup((producer) => (producer === 0 ? conn : undefined));
    await expect(s.sender.send('audit', [audit(1)])).rejects.toMatchObject({ code: 'KAFKA_UNREACHABLE', retriable: true, cause: conn });
    expect(s.producers).toHaveLength(1);
    expect(s.producers[0]!.disconnected).toBe(true);
    expect(s.events).toEqual([
      expect.objectContaining({ type: 'producer.recreated', reason: expect.stringContaining('unknown outcome') }),
      expect.objectContaining({ type: 'publish.failed', messages: 1, retriable: true }),
    ]);
    expect(s.health.report().components.producer?.status).toBe('down');
    await s.sender.send('audit', [audit(2)]);
    expect(s.producers).toHaveLength(2);
    expect(s.producers[1]!.sends).toHaveLength(1);
    expect(s.health.report().components.producer?.status).toBe('up');
  });
});

describe('createSender: record sizes', () => {
  it('a record over maxMessageBytes fails at once with KAFKA_RECORD_TOO_LARGE naming size and limit; nothing is sent', async () => {
    const s = setup(() => undefined, { maxMessageBytes: 10_000 });
    const e = await s.sender.send('audit', [audit(1), audit(2, JSON.stringify('x'.repeat(20_000)))]).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'KAFKA_RECORD_TOO_LARGE', retriable: false });
    expect((e as Error).message).toMatch(/record of \d+ bytes .* over the limit of 10000 bytes/);
    expect(s.producers.flatMap((p) => p.sends)).toHaveLength(0);
    expect(s.events).toEqual([expect.objectContaining({ type: 'publish.failed', topic: topics.audit, messages: 2, retriable: false })]);
    expect(s.health.report().components.producer).toBeUndefined(); // the producer is fine
  });

  it('a broker refusal as MESSAGE_TOO_LARGE is KAFKA_RECORD_TOO_LARGE too', async () => {
    const s = setup(() => protocolError('MESSAGE_TOO_LARGE', 10));
    await expect(s.sender.send('audit', [audit(1)])).rejects.toMatchObject({ code: 'KAFKA_RECORD_TOO_LARGE', retriable: false });
    expect(s.events).toEqual([expect.objectContaining({ type: 'publish.failed', retriable: false })]);
  });

  it('splits a send into requests of at most maxMessageBytes, in order', async () => {
    const s = setup(() => undefined, { maxMessageBytes: 10_000 });
    const msgs = Array.from({ length: 9 }, (_, i) => audit(i, JSON.stringify('y'.repeat(3000))));
    await s.sender.send('audit', msgs);
    const sends = s.producers[0]!.sends;
    expect(sends.length).toBeGreaterThanOrEqual(3);
    expect(sends.flatMap((r) => r.messages.map((m) => m.key))).toEqual(msgs.map((m) => m.key));
    for (const r of sends) expect(r.messages.reduce((n, m) => n + (m.value as Buffer).length, 0)).toBeLessThan(10_000);
  });
});
