// Unit tests of group consumption with a fake kafkajs consumer: at most maxInFlight handlers across
// partitions (the shared Limiter), offsets resolved only up to the first message that is not done, poison
// records dead-lettered, failing handlers tried again then dead-lettered, a failed dead-letter never
// committed past, redeliveries counted, rebalances and lost generations stop the batch, crashes restart,
// a failed setup disconnects. Backoffs and heartbeats run in virtual time.
import type { Consumer, ConsumerConfig, ConsumerRunConfig, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../logger.ts';
import { createCodec } from '../codec.ts';
import { createHealthBoard, type HealthBoard, type TransportEvent } from '../health.ts';
import type { FeedbackMessage } from '../messages.ts';
import { sampleMessages } from '../../../test/kafka/support.ts';
import { consumeGroup, type GroupConsumerDeps } from './consumer.ts';

const codec = createCodec();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function record(offset: number, value?: Buffer): KafkaMessage {
  const e = codec.encode('feedback', { ...sampleMessages().feedback, feedbackId: `fb-${offset}` });
  return { key: Buffer.from('k'), value: value ?? e.value, headers: e.headers, offset: String(offset), timestamp: '0', attributes: 0 };
}

const EVENTS = { GROUP_JOIN: 'consumer.group_join', REBALANCING: 'consumer.rebalancing', CRASH: 'consumer.crash' } as const;

/** A fake kafkajs client whose consumers keep their run config and listeners so a test can drive eachBatch and events. */
function fakeKafka(fail?: 'connect' | 'subscribe') {
  const calls: string[] = [];
  const made: { config: ConsumerConfig; run?: ConsumerRunConfig; subscribed?: boolean; emit: (event: string, payload?: unknown) => void }[] = [];
  let failNext = fail;
  const kafka = {
    consumer: (config: ConsumerConfig) => {
      const listeners = new Map<string, ((e: unknown) => void)[]>();
      const me: (typeof made)[number] = { config, emit: (event, payload = {}) => { for (const l of listeners.get(event) ?? []) l({ type: event, payload }); } };
      made.push(me);
      return {
        events: EVENTS,
        on: (event: string, l: (e: unknown) => void) => { listeners.set(event, [...(listeners.get(event) ?? []), l]); },
        connect: async () => {
          calls.push('connect');
          if (failNext === 'connect') throw new Error('no broker');
        },
        subscribe: async (s: { fromBeginning: boolean }) => {
          calls.push('subscribe');
          if (failNext === 'subscribe') throw new Error('no topic');
          me.subscribed = s.fromBeginning;
        },
        run: async (c: ConsumerRunConfig) => {
          me.run = c;
          me.emit(EVENTS.GROUP_JOIN);
        },
        disconnect: async () => { calls.push('disconnect'); },
      } as unknown as Consumer;
    },
  };
  return { kafka, calls, made, config: () => made.at(-1)!.run!, failNext: (f?: 'connect' | 'subscribe') => { failNext = f; } };
}

/** Drives one batch of `messages` through eachBatch; returns what was resolved and committed. */
function batch(messages: KafkaMessage[], partition = 0, over: { heartbeat?: () => Promise<void>; commit?: () => Promise<void> } = {}) {
  const resolved: string[] = [];
  const committed: string[] = [];
  let commits = 0;
  const payload = {
    batch: { topic: 't.feedback', partition, messages },
    resolveOffset: (o: string) => { resolved.push(o); },
    heartbeat: over.heartbeat ?? (async () => undefined),
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: async () => {
      await over.commit?.();
      commits++;
      committed.push(resolved.at(-1)!);
    },
  } as unknown as EachBatchPayload;
  return { payload, resolved, committed, commits: () => commits };
}

function deps(kafka: GroupConsumerDeps['kafka'], deadLetters: string[] = [], extra: Partial<GroupConsumerDeps> = {}): GroupConsumerDeps & { events: TransportEvent[]; health: HealthBoard } {
  const events: TransportEvent[] = [];
  return {
    kafka, topic: 't.feedback', codec, sessionTimeoutMs: 10_000, log: silentLogger, health: createHealthBoard(), emit: (e) => events.push(e), events,
    deadLetter: async (partition, m, reason) => { deadLetters.push(`${partition}/${m.offset}: ${reason.split('\n')[0]}`); },
    ...extra,
  };
}

const COMPONENT = 'consumer:t.feedback:g';
const fakeTime = (): void => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }); };
const kafkaError = (type: string): Error => Object.assign(new Error(`The broker says ${type}`), { name: 'KafkaJSProtocolError', type, retriable: false });

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

  it.each(['connect', 'subscribe'] as const)('a failed %s rejects and disconnects the consumer', async (fail) => {
    const fake = fakeKafka(fail);
    await expect(consumeGroup('feedback', deps(fake.kafka), { group: 'g', maxInFlight: 1 }, async () => undefined)).rejects.toThrow();
    expect(fake.calls.at(-1)).toBe('disconnect');
  });

  describe('failures, redeliveries, rebalances and crashes', () => {
    afterEach(() => { vi.useRealTimers(); });

    it('a rejecting handler is tried again in place with backoff, then dead-lettered; only then is its offset resolved', async () => {
      fakeTime();
      const fake = fakeKafka();
      const deadLetters: string[] = [];
      const d = deps(fake.kafka, deadLetters);
      const attempts: string[] = [];
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 2, maxAttempts: 3, retryBackoffMs: 200 }, async (m, { attempt }) => {
        attempts.push(`${m.offset}#${attempt}`);
        if (m.offset === '0') throw new Error('handler broke');
      });
      const b = batch([record(0), record(1)]);
      const done = fake.config().eachBatch!(b.payload);
      await vi.advanceTimersByTimeAsync(0);
      expect(attempts).toEqual(['0#1', '1#1']);
      expect(b.resolved).toEqual([]); // 1 is done, 0 is not: nothing may be committed past it
      await vi.advanceTimersByTimeAsync(200);
      expect(attempts).toEqual(['0#1', '1#1', '0#2']);
      expect(b.resolved).toEqual([]);
      await vi.advanceTimersByTimeAsync(400);
      await done;
      expect(attempts).toEqual(['0#1', '1#1', '0#2', '0#3']);
      expect(deadLetters).toEqual(['0/0: handler failed 3 times: handler broke']);
      expect(b.resolved).toEqual(['0', '1']);
      expect(b.committed.at(-1)).toBe('1');
      expect(d.events.filter((e) => e.type === 'handler.failed').map((e) => e.type === 'handler.failed' && [e.offset, e.attempt, e.maxAttempts, e.reason]))
        .toEqual([['0', 1, 3, 'handler broke'], ['0', 2, 3, 'handler broke'], ['0', 3, 3, 'handler broke']]);
    });

    it('when dead-lettering fails, nothing is resolved past the record: the batch ends with DEAD_LETTER_FAILED after the others in flight, health down, an event', async () => {
      const fake = fakeKafka();
      const d = deps(fake.kafka, [], { deadLetter: async () => { throw new Error('dead-letter topic unavailable'); } });
      const handled: string[] = [];
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 2, maxAttempts: 1 }, async (m) => {
        if (m.offset === '1') throw new Error('boom');
        await new Promise((r) => setImmediate(r));
        handled.push(m.offset);
      });
      expect(d.health.report().components[COMPONENT]?.status).toBe('up');
      const b = batch([record(0), record(1), record(2), record(3)]);
      await expect(fake.config().eachBatch!(b.payload)).rejects.toMatchObject({ code: 'DEAD_LETTER_FAILED', retriable: true });
      expect(b.resolved).toEqual(['0']); // never past offset 1
      expect(handled).toEqual(['0']); // 0 was in flight and finished after the failure; 2 and 3 were never started
      expect(d.health.report().components[COMPONENT]).toMatchObject({ status: 'down', reason: expect.stringMatching(/offset 1 failed: dead-letter topic unavailable/) });
      expect(d.events.filter((e) => e.type === 'dead-letter.failed')).toMatchObject([{ topic: 't.feedback', partition: 0, offset: '1' }]);
    });

    it('a record delivered more than maxDeliveries times is dead-lettered unhandled: redelivered N times', async () => {
      const fake = fakeKafka();
      const deadLetters: string[] = [];
      const handled: string[] = [];
      // a short session: the hung record, redelivered, runs alone that long before the others may start
      await consumeGroup('feedback', deps(fake.kafka, deadLetters, { sessionTimeoutMs: 1500 }), { group: 'g', maxInFlight: 4, maxDeliveries: 2 }, async (m) => {
        handled.push(m.offset);
        if (m.offset === '5') await new Promise(() => undefined); // hangs: its member is expelled, the record comes again
      });
      // the record is delivered again, each time to a batch that ends (rebalance) before it is done
      for (let i = 0; i < 2; i++) {
        const b = batch([record(5)]);
        void fake.config().eachBatch!(b.payload);
        await tick();
      }
      const last = batch([record(5), record(6)]);
      await fake.config().eachBatch!(last.payload);
      expect(handled.filter((o) => o === '5')).toHaveLength(2);
      expect(handled.at(-1)).toBe('6');
      expect(last.resolved).toEqual(['5', '6']);
      expect(deadLetters).toEqual(['0/5: redelivered 2 times']);
    });

    it('a record that blocks the event loop is told apart from a bystander that ran beside it: redelivered, it runs alone; only it is dead-lettered', async () => {
      fakeTime();
      const fake = fakeKafka();
      const deadLetters: string[] = [];
      const handled: string[] = [];
      await consumeGroup('feedback', deps(fake.kafka, deadLetters, { sessionTimeoutMs: 6000 }), { group: 'g', maxInFlight: 4, maxDeliveries: 2 }, async (m) => {
        await Promise.resolve(); // both have started when the poison blocks
        if (m.offset === '5') vi.setSystemTime(Date.now() + 7500); // blocks the event loop past the session (no timer ran)
        handled.push(m.offset);
      });
      // each delivery of 5 gets the member expelled: the commit fails, the member rejoins, the batch comes again
      const expelled = { commit: async () => { throw kafkaError('UNKNOWN_MEMBER_ID'); } };
      for (let i = 0; i < 3; i++) {
        await fake.config().eachBatch!(batch([record(5), record(6)], 0, expelled).payload).catch(() => undefined);
        fake.made.at(-1)!.emit(EVENTS.GROUP_JOIN);
      }
      expect(deadLetters).toEqual(['0/5: redelivered 2 times']); // not 6: it only ran beside the poison, then alone and fine
      expect(handled.filter((o) => o === '5')).toHaveLength(2);
      expect(handled.at(-1)).toBe('6');
      vi.useRealTimers();
    });

    it('a heartbeat saying REBALANCE_IN_PROGRESS stops starting records: those in flight finish, the done prefix is committed, the batch ends with that error', async () => {
      fakeTime();
      const fake = fakeKafka();
      const d = deps(fake.kafka);
      const started: string[] = [];
      const release = new Map<string, () => void>();
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 2 }, (m) => {
        started.push(m.offset);
        return new Promise<void>((r) => release.set(m.offset, r));
      });
      let rebalancing = false;
      const rebalance = kafkaError('REBALANCE_IN_PROGRESS');
      const b = batch([0, 1, 2, 3, 4].map((o) => record(o)), 0, { heartbeat: async () => { if (rebalancing) throw rebalance; } });
      const done = fake.config().eachBatch!(b.payload);
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toEqual(['0', '1']);
      rebalancing = true;
      await vi.advanceTimersByTimeAsync(1000); // the next heartbeat
      expect(d.events.map((e) => e.type === 'rebalance' && e.phase)).toEqual(['started']);
      release.get('0')!();
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toEqual(['0', '1']); // a slot is free, but no new record starts during a rebalance
      release.get('1')!();
      await expect(done).rejects.toBe(rebalance);
      expect(b.resolved).toEqual(['0', '1']);
      expect(b.committed.at(-1)).toBe('1');
      // rejoined: records start again, and the join is an event
      fake.made.at(-1)!.emit(EVENTS.GROUP_JOIN);
      expect(d.events.map((e) => e.type === 'rebalance' && e.phase)).toEqual(['started', 'joined']);
      const again = batch([record(2)]);
      const p = fake.config().eachBatch!(again.payload);
      await vi.advanceTimersByTimeAsync(0);
      release.get('2')!();
      await p;
      expect(again.resolved).toEqual(['2']);
    });

    it('a commit failing with UNKNOWN_MEMBER_ID is a commit.failed event and stops the batch (no silent failed commits)', async () => {
      const fake = fakeKafka();
      const d = deps(fake.kafka);
      const started: string[] = [];
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 1 }, async (m) => { started.push(m.offset); });
      const expelled = kafkaError('UNKNOWN_MEMBER_ID');
      const b = batch([0, 1, 2, 3].map((o) => record(o)), 0, { commit: async () => { throw expelled; } });
      await expect(fake.config().eachBatch!(b.payload)).rejects.toBe(expelled);
      expect(started.length).toBeLessThan(3); // the failure stops the batch (one more may start while the commit's answer is on its way)
      const failed = d.events.filter((e) => e.type === 'commit.failed');
      expect(failed.length).toBeGreaterThan(0);
      expect(failed[0]).toMatchObject({ topic: 't.feedback', group: 'g', reason: expect.stringMatching(/UNKNOWN_MEMBER_ID/) });
      expect(d.events.filter((e) => e.type === 'rebalance')).toMatchObject([{ phase: 'started' }]);
    });

    it('a crash is down + consumer.crashed; the consumer is re-created after a backoff, then up + consumer.restarted; given up after maxRestarts', async () => {
      fakeTime();
      const fake = fakeKafka();
      const d = deps(fake.kafka, [], { maxRestarts: 2, restartBackoffMs: 1000 });
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 1 }, async () => undefined);
      expect(fake.made).toHaveLength(1);
      expect(fake.made[0]!.config.retry?.restartOnFailure).toBeTypeOf('function');
      expect(await fake.made[0]!.config.retry!.restartOnFailure!(new Error('x'))).toBe(false); // restarts are ours
      fake.made[0]!.emit(EVENTS.CRASH, { error: new TypeError('eachBatch blew up'), groupId: 'g', restart: false });
      expect(d.health.report().components[COMPONENT]).toMatchObject({ status: 'down', reason: 'crashed: eachBatch blew up' });
      expect(d.events.at(-1)).toMatchObject({ type: 'consumer.crashed', topic: 't.feedback', group: 'g', reason: 'eachBatch blew up', restarting: true });
      await vi.advanceTimersByTimeAsync(999);
      expect(fake.made).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(fake.made).toHaveLength(2); // a new consumer, joined
      expect(d.events.at(-1)).toMatchObject({ type: 'consumer.restarted', topic: 't.feedback', group: 'g' });
      expect(d.health.report().components[COMPONENT]?.status).toBe('up');
      // two crashes in a row, the first restart cannot even connect: backoff doubles, then it gives up
      fake.made[1]!.emit(EVENTS.CRASH, { error: new Error('again'), groupId: 'g', restart: false });
      fake.failNext('connect');
      await vi.advanceTimersByTimeAsync(1000);
      expect(fake.made).toHaveLength(3);
      expect(d.events.at(-1)).toMatchObject({ type: 'consumer.crashed', reason: 'no broker', restarting: true });
      await vi.advanceTimersByTimeAsync(2000);
      expect(fake.made).toHaveLength(4);
      expect(d.events.at(-1)).toMatchObject({ type: 'consumer.crashed', reason: 'no broker', restarting: false });
      expect(d.health.report().components[COMPONENT]).toMatchObject({ status: 'down', reason: expect.stringMatching(/given up after 2 restarts: no broker/) });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fake.made).toHaveLength(4);
    });

    it('a side stream (essential: false) is degraded, not down, while it restarts; down once restarting is given up', async () => {
      fakeTime();
      const fake = fakeKafka();
      const d = deps(fake.kafka, [], { maxRestarts: 1, restartBackoffMs: 1000 });
      await consumeGroup('feedback', d, { group: 'g', maxInFlight: 1, essential: false }, async () => undefined);
      fake.made[0]!.emit(EVENTS.CRASH, { error: new Error('broker went away'), groupId: 'g', restart: false });
      expect(d.health.report()).toMatchObject({ status: 'degraded', components: { [COMPONENT]: { status: 'degraded', reason: 'crashed: broker went away' } } });
      expect(d.events.at(-1)).toMatchObject({ type: 'consumer.crashed', restarting: true });
      await vi.advanceTimersByTimeAsync(1000);
      expect(d.health.report().components[COMPONENT]?.status).toBe('up');
      fake.made[1]!.emit(EVENTS.CRASH, { error: new Error('again'), groupId: 'g', restart: false });
      fake.failNext('connect');
      await vi.advanceTimersByTimeAsync(1000);
      expect(d.health.report().components[COMPONENT]).toMatchObject({ status: 'down', reason: expect.stringMatching(/given up after 1 restarts: no broker/) });
    });

    it('offsetReset: earliest by default, latest on request; the deprecated fromBeginning still works', async () => {
      const cases = [[{}, true], [{ offsetReset: 'latest' as const }, false], [{ fromBeginning: false }, false], [{ offsetReset: 'earliest' as const }, true]] as const;
      for (const [extra, fromBeginning] of cases) {
        const fake = fakeKafka();
        await consumeGroup('feedback', deps(fake.kafka), { group: 'g', maxInFlight: 1, ...extra }, async () => undefined);
        expect(fake.made[0]!.subscribed, JSON.stringify(extra)).toBe(fromBeginning);
      }
      await expect(consumeGroup('feedback', deps(fakeKafka().kafka), { group: 'g', maxInFlight: 1, maxDeliveries: 0 }, async () => undefined)).rejects.toThrow(/maxDeliveries/);
    });
  });

  it('after a handler blocked the event loop longer than the session, the batch starts nothing more (those records are not counted in a dead generation)', async () => {
    const fake = fakeKafka();
    const started: string[] = [];
    await consumeGroup('feedback', deps(fake.kafka, [], { sessionTimeoutMs: 200 }), { group: 'g', maxInFlight: 1 }, async (m) => {
      started.push(m.offset);
      if (m.offset === '0') {
        const until = Date.now() + 300;
        while (Date.now() < until) { /* blocks: no heartbeat gets out */ }
      }
    });
    const b = batch([0, 1, 2].map((o) => record(o)));
    await fake.config().eachBatch!(b.payload);
    expect(started).toEqual(['0']);
    expect(b.resolved).toEqual(['0']); // done, and its commit is tried: only the group can say it was expelled
  });
});
