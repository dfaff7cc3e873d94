// Unit tests of group consumption with a fake kafkajs consumer: at most maxInFlight handlers across
// partitions (the shared Limiter), offsets resolved only up to the first unfinished message, poison
// records dead-lettered, a failed setup disconnects.
import type { Consumer, ConsumerRunConfig, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../logger.ts';
import { createCodec } from '../codec.ts';
import type { FeedbackMessage } from '../messages.ts';
import { sampleMessages } from '../../../test/kafka/support.ts';
import { consumeGroup, type GroupConsumerDeps } from './consumer.ts';

const codec = createCodec();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function record(offset: number, value?: Buffer): KafkaMessage {
  const e = codec.encode('feedback', { ...sampleMessages().feedback, feedbackId: `fb-${offset}` });
  return { key: Buffer.from('k'), value: value ?? e.value, headers: e.headers, offset: String(offset), timestamp: '0', attributes: 0 };
}

/** A fake kafkajs consumer that keeps the run config so a test can drive eachBatch. */
function fakeKafka(fail?: 'connect' | 'subscribe') {
  const calls: string[] = [];
  let config: ConsumerRunConfig | undefined;
  const consumer = {
    connect: async () => {
      calls.push('connect');
      if (fail === 'connect') throw new Error('no broker');
    },
    subscribe: async () => {
      calls.push('subscribe');
      if (fail === 'subscribe') throw new Error('no topic');
    },
    run: async (c: ConsumerRunConfig) => { config = c; },
    disconnect: async () => { calls.push('disconnect'); },
  } as unknown as Consumer;
  return { kafka: { consumer: () => consumer }, calls, config: () => config! };
}

/** Drives one batch of `messages` through eachBatch; returns what was resolved and committed. */
function batch(messages: KafkaMessage[], partition = 0) {
  const resolved: string[] = [];
  let commits = 0;
  const payload = {
    batch: { topic: 't.feedback', partition, messages },
    resolveOffset: (o: string) => { resolved.push(o); },
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: async () => { commits++; },
  } as unknown as EachBatchPayload;
  return { payload, resolved, commits: () => commits };
}

function deps(kafka: GroupConsumerDeps['kafka'], deadLetters: string[] = []): GroupConsumerDeps {
  return {
    kafka, topic: 't.feedback', codec, sessionTimeoutMs: 10_000, log: silentLogger,
    deadLetter: async (partition, m, reason) => { deadLetters.push(`${partition}/${m.offset}: ${reason.split('\n')[0]}`); },
  };
}

describe('consumeGroup', () => {
  it('runs at most maxInFlight handlers across partitions and resolves only the finished prefix', async () => {
    const fake = fakeKafka();
    const release = new Map<string, () => void>();
    let running = 0;
    let most = 0;
    const seen: string[] = [];
    const c = await consumeGroup('feedback', deps(fake.kafka), { group: 'g', maxInFlight: 2 }, (m) => {
      seen.push(`${m.partition}/${m.offset}`);
      most = Math.max(most, ++running);
      return new Promise<void>((r) => release.set(`${m.partition}/${m.offset}`, () => { running--; r(); }));
    });
    const p0 = batch([0, 1, 2].map((o) => record(o)), 0);
    const p1 = batch([10, 11].map((o) => record(o)), 1);
    const done0 = fake.config().eachBatch!(p0.payload);
    const done1 = fake.config().eachBatch!(p1.payload);
    await tick();
    expect(seen).toEqual(['0/0', '0/1']); // the batch of partition 1 waits for a slot
    expect(c.inFlight).toBe(2);
    release.get('0/1')!();
    await tick();
    expect(p0.resolved).toEqual([]); // 0/1 finished, but 0/0 has not: nothing may be committed past it
    expect(seen).toEqual(['0/0', '0/1', '0/2']); // FIFO across partitions: partition 0 asked first
    release.get('0/0')!();
    await tick();
    expect(p0.resolved).toEqual(['0', '1']);
    expect(p0.commits()).toBeGreaterThan(0);
    expect(seen).toEqual(['0/0', '0/1', '0/2', '1/10']);
    release.get('0/2')!();
    await tick();
    release.get('1/10')!();
    await tick();
    release.get('1/11')!();
    await Promise.all([done0, done1]);
    expect(p0.resolved).toEqual(['0', '1', '2']);
    expect(p1.resolved).toEqual(['10', '11']);
    expect(most).toBe(2);
    expect(c.inFlight).toBe(0);
    await c.stop();
    expect(fake.calls).toEqual(['connect', 'subscribe', 'disconnect']);
  });

  it('dead-letters undecodable records, counts them as finished and goes on', async () => {
    const fake = fakeKafka();
    const deadLetters: string[] = [];
    const handled: string[] = [];
    await consumeGroup('feedback', deps(fake.kafka, deadLetters), { group: 'g', maxInFlight: 4 }, async (m: { value: FeedbackMessage; offset: string }) => {
      handled.push(`${m.offset}:${m.value.feedbackId}`);
    });
    const b = batch([record(0), record(1, Buffer.from([1, 2, 3])), record(2)]);
    await fake.config().eachBatch!(b.payload);
    expect(handled).toEqual(['0:fb-0', '2:fb-2']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatch(/^0\/1: /);
    expect(b.resolved).toEqual(['0', '1', '2']);
  });

  it('a handler failure is logged and its offset still counts as finished', async () => {
    const fake = fakeKafka();
    const errors: unknown[] = [];
    const log: Logger = { ...silentLogger, child: () => log, error: (o: object | string) => { errors.push(o); } };
    await consumeGroup('feedback', { ...deps(fake.kafka), log }, { group: 'g', maxInFlight: 1 }, async () => { throw new Error('handler broke'); });
    const b = batch([record(0), record(1)]);
    await fake.config().eachBatch!(b.payload);
    expect(b.resolved).toEqual(['0', '1']);
    expect(errors).toHaveLength(2);
  });

  it.each(['connect', 'subscribe'] as const)('a failed %s rejects and disconnects the consumer', async (fail) => {
    const fake = fakeKafka(fail);
    await expect(consumeGroup('feedback', deps(fake.kafka), { group: 'g', maxInFlight: 1 }, async () => undefined)).rejects.toThrow();
    expect(fake.calls.at(-1)).toBe('disconnect');
  });
});
