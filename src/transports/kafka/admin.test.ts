// Unit tests of topic administration with a fake kafkajs admin: missing topics are created, and
// ensureTopics returns only once every partition names a leader that answers (bounded, abortable polls).
import type { ITopicConfig, ITopicMetadata, PartitionMetadata } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isOrchestratorError } from '../../errors.ts';
import { ensureTopics, waitForLeaders, type TopicAdmin, type TopicMismatch } from './admin.ts';

const part = (partitionId: number, leader: number, partitionErrorCode = 0): PartitionMetadata => ({ partitionId, leader, partitionErrorCode, replicas: [1], isr: [1] });

/** A fake admin whose metadata answers come from `script` in turn (the last one repeats). */
function fakeAdmin(existing: string[], script: (Error | ((topics: string[]) => ITopicMetadata[]))[], configs: Record<string, Record<string, string>> = {}) {
  const calls: string[] = [];
  const created: ITopicConfig[] = [];
  let i = 0;
  const admin: TopicAdmin = {
    connect: async () => { calls.push('connect'); },
    disconnect: async () => { calls.push('disconnect'); },
    listTopics: async () => existing,
    createTopics: async ({ topics }) => {
      calls.push(`create ${topics.map((t) => `${t.topic}/${t.numPartitions}`).join(',')}`);
      created.push(...topics);
      return true;
    },
    describeConfigs: async ({ resources }) => {
      calls.push('configs');
      return {
        throttleTime: 0,
        resources: resources.map((r) => ({
          errorCode: 0, errorMessage: '', resourceName: r.name, resourceType: r.type,
          configEntries: Object.entries(configs[r.name] ?? { 'cleanup.policy': 'delete' }).map(([configName, configValue]) => ({
            configName, configValue, isDefault: false, configSource: 1, isSensitive: false, readOnly: false, configSynonyms: [],
          })),
        })),
      };
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
  return { admin, calls, created };
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
    const { admin, calls } = fakeAdmin(['x.a'], [all(3, 1), all(1, -1), all(3, 1)]);
    const p = ensureTopics(admin, { topics: ['x.a', 'x.b'], partitions: 3, replicationFactor: 1, delayMs: 10 });
    await vi.advanceTimersByTimeAsync(10);
    await p;
    // the existing topic is checked (metadata, configs) before anything is created
    expect(calls).toEqual(['connect', 'metadata', 'configs', 'create x.b/3', 'metadata', 'metadata', 'offsets x.a', 'offsets x.b', 'disconnect']);
  });

  it('nothing to create: still checks that the topics are served', async () => {
    const { admin, calls } = fakeAdmin(['x.a'], [all(3, 1)]);
    await ensureTopics(admin, { topics: ['x.a'], partitions: 3, replicationFactor: 1 });
    expect(calls).toEqual(['connect', 'metadata', 'configs', 'metadata', 'offsets x.a', 'disconnect']);
  });

  it('disconnects when waiting fails', async () => {
    const { admin, calls } = fakeAdmin([], [new Error('boom')]);
    await expect(ensureTopics(admin, { topics: ['x.a'], partitions: 1, replicationFactor: 1 })).rejects.toThrow('boom');
    expect(calls.at(-1)).toBe('disconnect');
  });
});

describe('ensureTopics: topic settings', () => {
  const replicas = (n: number) => (topics: string[]): ITopicMetadata[] =>
    topics.map((name) => ({ name, partitions: [0, 1, 2].map((p) => ({ ...part(p, 1), replicas: Array.from({ length: n }, (_, i) => i + 1) })) }));

  it('creates topics with cleanup.policy (compact for the compacted ones), retention.ms and min.insync.replicas', async () => {
    const { admin, created } = fakeAdmin([], [all(3, 1)]);
    await ensureTopics(admin, { topics: ['x.a', 'x.policies'], partitions: 3, replicationFactor: 1, retentionMs: 86_400_000, minInsyncReplicas: 1, compacted: ['x.policies'] });
    expect(created.map((t) => [t.topic, t.configEntries])).toEqual([
      ['x.a', [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '86400000' }, { name: 'min.insync.replicas', value: '1' }]],
      ['x.policies', [{ name: 'cleanup.policy', value: 'compact' }, { name: 'min.insync.replicas', value: '1' }]],
    ]);
  });

  it('harmless differences of existing topics are reported (onMismatch, naming topic, has and asked), not thrown', async () => {
    const seen: TopicMismatch[] = [];
    const { admin, calls } = fakeAdmin(['x.a', 'x.policies'], [all(2, 1)], { 'x.a': { 'cleanup.policy': 'delete', 'retention.ms': '1000' }, 'x.policies': { 'cleanup.policy': 'delete' } });
    await ensureTopics(admin, { topics: ['x.a', 'x.policies'], partitions: 6, replicationFactor: 1, retentionMs: 5000, compacted: ['x.policies'], onMismatch: (m) => seen.push(m) });
    expect(seen.map((m) => [m.topic, m.setting, m.has, m.asked])).toEqual([
      ['x.a', 'partitions', '2', '6'],
      ['x.policies', 'partitions', '2', '6'],
      ['x.a', 'retention.ms', '1000', '5000'],
      ['x.policies', 'cleanup.policy', 'delete', 'compact'],
    ]);
    expect(seen[0]!.message).toMatch(/^topic x\.a has partitions 2, asked for 6: /);
    expect(calls).not.toContainEqual(expect.stringMatching(/^create/));
  });

  it('a lower replication factor or a compacted run topic is TOPIC_MISMATCH (not retriable), before anything is created', async () => {
    const low = fakeAdmin(['x.a'], [replicas(1)]);
    const e = await ensureTopics(low.admin, { topics: ['x.a', 'x.b'], partitions: 3, replicationFactor: 3 }).then(() => undefined, (err: unknown) => err);
    expect(e).toMatchObject({ code: 'TOPIC_MISMATCH', retriable: false });
    expect((e as Error).message).toContain('topic x.a has replicationFactor 1, asked for 3');
    expect(low.calls).not.toContainEqual(expect.stringMatching(/^create/));
    expect(low.calls.at(-1)).toBe('disconnect');
    const compacted = fakeAdmin(['x.events'], [all(3, 1)], { 'x.events': { 'cleanup.policy': 'compact,delete' } });
    await expect(ensureTopics(compacted.admin, { topics: ['x.events'], partitions: 3, replicationFactor: 1, compacted: ['x.policies'] }))
      .rejects.toThrow(/topic x\.events has cleanup\.policy compact,delete, asked for delete: compaction keeps only the last message per key/);
  });
});
