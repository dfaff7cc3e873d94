// Unit tests of topic administration with a fake kafkajs admin: missing topics are created, and
// ensureTopics returns only once every partition names a leader that answers (bounded, abortable polls).
import type { ITopicMetadata, PartitionMetadata } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isOrchestratorError } from '../../errors.ts';
import { ensureTopics, waitForLeaders, type TopicAdmin } from './admin.ts';

const part = (partitionId: number, leader: number, partitionErrorCode = 0): PartitionMetadata => ({ partitionId, leader, partitionErrorCode, replicas: [1], isr: [1] });

/** A fake admin whose metadata answers come from `script` in turn (the last one repeats). */
function fakeAdmin(existing: string[], script: (Error | ((topics: string[]) => ITopicMetadata[]))[]) {
  const calls: string[] = [];
  let i = 0;
  const admin: TopicAdmin = {
    connect: async () => { calls.push('connect'); },
    disconnect: async () => { calls.push('disconnect'); },
    listTopics: async () => existing,
    createTopics: async ({ topics }) => {
      calls.push(`create ${topics.map((t) => `${t.topic}/${t.numPartitions}`).join(',')}`);
      return true;
    },
    fetchTopicMetadata: async (req) => {
      calls.push('metadata');
      const step = script[Math.min(i++, script.length - 1)]!;
      if (step instanceof Error) throw step;
      return { topics: step(req?.topics ?? []) };
    },
    fetchTopicOffsets: async (topic) => {
      calls.push(`offsets ${topic}`);
      return [];
    },
  };
  return { admin, calls };
}

const all = (partitions: number, leader: number) => (topics: string[]): ITopicMetadata[] =>
  topics.map((name) => ({ name, partitions: Array.from({ length: partitions }, (_, p) => part(p, leader)) }));

const retriable = (message: string): Error => Object.assign(new Error(message), { retriable: true });

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('waitForLeaders', () => {
  it('polls until every partition has a leader, then checks that each leader answers', async () => {
    const { admin, calls } = fakeAdmin([], [all(3, -1), (ts) => [...all(3, 1)(ts.slice(0, 1)), ...all(3, -1)(ts.slice(1))], all(3, 1)]);
    let done = false;
    const p = waitForLeaders(admin, ['a', 'b'], { delayMs: 100 }).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['metadata']);
    await vi.advanceTimersByTimeAsync(100); // second poll: b still has no leader
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(199);
    expect(calls.filter((c) => c === 'metadata')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // third poll after a doubled wait
    await p;
    expect(calls).toEqual(['metadata', 'metadata', 'metadata', 'offsets a', 'offsets b']);
  });

  it('a partition with an error code, a missing topic or too few partitions is not ready yet', async () => {
    const { admin, calls } = fakeAdmin([], [
      (ts) => [{ name: ts[0]!, partitions: [part(0, 1, 5)] }],
      () => [],
      (ts) => [{ name: ts[0]!, partitions: [part(0, 1)] }],
      all(2, 1),
    ]);
    const p = waitForLeaders(admin, ['a'], { delayMs: 10, partitions: new Map([['a', 2]]) });
    await vi.advanceTimersByTimeAsync(1000);
    await p;
    expect(calls.filter((c) => c === 'metadata')).toHaveLength(4);
  });

  it('retriable kafkajs failures count as "not yet"; others, and an unreachable broker, are thrown at once', async () => {
    const ok = fakeAdmin([], [retriable('This server does not host this topic-partition'), all(1, 1)]);
    const p = waitForLeaders(ok.admin, ['a'], { delayMs: 10 });
    await vi.advanceTimersByTimeAsync(10);
    await p;
    const gaveUp = fakeAdmin([], [Object.assign(new Error('retries exhausted'), { retriable: false, cause: retriable('LEADER_NOT_AVAILABLE') }), all(1, 1)]);
    const q = waitForLeaders(gaveUp.admin, ['a'], { delayMs: 10 }); // kafkajs gave up early (retries: 0): still "not yet"
    await vi.advanceTimersByTimeAsync(10);
    await q;
    const down = fakeAdmin([], [Object.assign(new Error('refused'), { name: 'KafkaJSConnectionError', retriable: true })]);
    await expect(waitForLeaders(down.admin, ['a'])).rejects.toThrow('refused'); // polling would not bring the broker back
    expect(down.calls).toEqual(['metadata']);
    const bad = fakeAdmin([], [new Error('not authorized')]);
    await expect(waitForLeaders(bad.admin, ['a'])).rejects.toThrow('not authorized');
    expect(bad.calls).toEqual(['metadata']);
  });

  it('gives up after `attempts` polls with a retriable KAFKA_TOPICS_NOT_READY naming what is missing', async () => {
    const { admin, calls } = fakeAdmin([], [all(1, -1)]);
    const p = waitForLeaders(admin, ['a'], { attempts: 4, delayMs: 10 });
    const failure = p.then(() => undefined, (e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    const e = await failure;
    expect(isOrchestratorError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'KAFKA_TOPICS_NOT_READY', retriable: true });
    expect((e as Error).message).toContain('a[0]: leader -1');
    expect(calls.filter((c) => c === 'metadata')).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort stops the wait between polls', async () => {
    const { admin } = fakeAdmin([], [all(1, -1)]);
    const ctl = new AbortController();
    const p = waitForLeaders(admin, ['a'], { delayMs: 1000, signal: ctl.signal });
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error('shutting down');
    ctl.abort(reason);
    await expect(p).rejects.toBe(reason);
  });
});

describe('ensureTopics', () => {
  it('creates only the missing topics, waits for their leaders and disconnects', async () => {
    const { admin, calls } = fakeAdmin(['x.a'], [all(1, -1), all(3, 1)]);
    const p = ensureTopics(admin, { topics: ['x.a', 'x.b'], partitions: 3, replicationFactor: 1, delayMs: 10 });
    await vi.advanceTimersByTimeAsync(10);
    await p;
    expect(calls).toEqual(['connect', 'create x.b/3', 'metadata', 'metadata', 'offsets x.a', 'offsets x.b', 'disconnect']);
  });

  it('nothing to create: still checks that the topics are served', async () => {
    const { admin, calls } = fakeAdmin(['x.a'], [all(1, 1)]);
    await ensureTopics(admin, { topics: ['x.a'], partitions: 3, replicationFactor: 1 });
    expect(calls).toEqual(['connect', 'metadata', 'offsets x.a', 'disconnect']);
  });

  it('disconnects when waiting fails', async () => {
    const { admin, calls } = fakeAdmin([], [new Error('boom')]);
    await expect(ensureTopics(admin, { topics: ['x.a'], partitions: 1, replicationFactor: 1 })).rejects.toThrow('boom');
    expect(calls.at(-1)).toBe('disconnect');
  });
});
