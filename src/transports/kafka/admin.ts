/**
 * Topic administration: create the topics a transport uses, then wait until
 * every partition has a leader that serves it. `createTopics({ waitForLeaders })`
 * can return before the leader hosts the partition, and a producer or consumer
 * that comes right after then gets "This server does not host this
 * topic-partition"; so the metadata is polled (bounded attempts, abortable
 * waits) until every partition names a leader and every leader answers a
 * ListOffsets for its partitions.
 * @module
 */
import type { Admin, ITopicMetadata } from 'kafkajs';
import { OrchestratorError, retriableOf } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { sleep } from '../../primitives/sleep.ts';
import { isUnreachable } from './failures.ts';

/**
 * What {@link ensureTopics} needs of a kafkajs admin client.
 *
 * @example
 * ```ts
 * const admin: TopicAdmin = kafka.admin();
 * ```
 */
export type TopicAdmin = Pick<Admin, 'connect' | 'disconnect' | 'listTopics' | 'createTopics' | 'fetchTopicMetadata' | 'fetchTopicOffsets'>;

/**
 * How {@link waitForLeaders} polls.
 *
 * @example
 * ```ts
 * await waitForLeaders(admin, topics, { attempts: 40, delayMs: 100, signal });
 * ```
 */
export interface WaitForLeadersOptions {
  /** Metadata polls before giving up. Default 20. */
  readonly attempts?: number | undefined;
  /** First wait between polls, ms, doubled up to 1000. Default 50. */
  readonly delayMs?: number | undefined;
  /** Partition counts to expect, by topic (a topic just created may list fewer at first). */
  readonly partitions?: ReadonlyMap<string, number> | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link ensureTopics}.
 *
 * @example
 * ```ts
 * await ensureTopics(kafka.admin(), { topics: ['prod.run-requests'], partitions: 6, replicationFactor: 3 });
 * ```
 */
export interface EnsureTopicsOptions extends Omit<WaitForLeadersOptions, 'partitions'> {
  readonly topics: readonly string[];
  /** Partitions of created topics. */
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly logger?: Logger | undefined;
}

/**
 * Whether a failed poll means "not ready yet": a retriable kafkajs error, also when kafkajs already
 * gave up retrying it (low `retries`), but not an unreachable broker (polling more would not help).
 */
function notYet(e: unknown): boolean {
  return !isUnreachable(e) && (retriableOf(e) || retriableOf((e as { cause?: unknown } | null)?.cause));
}

/** Why the topics are not ready yet, or undefined when they are. */
function notReady(wanted: readonly string[], meta: readonly ITopicMetadata[], expected: ReadonlyMap<string, number>): string | undefined {
  const byName = new Map(meta.map((t) => [t.name, t]));
  for (const name of wanted) {
    const t = byName.get(name);
    if (t === undefined || t.partitions.length === 0) return `${name}: no partitions yet`;
    const n = expected.get(name) ?? 1;
    if (t.partitions.length < n) return `${name}: ${t.partitions.length} of ${n} partitions`;
    const p = t.partitions.find((x) => x.partitionErrorCode !== 0 || x.leader < 0);
    if (p !== undefined) return `${name}[${p.partitionId}]: leader ${p.leader}, error code ${p.partitionErrorCode}`;
  }
  return undefined;
}

/**
 * Polls until every partition of `topics` has a leader that serves it. Retriable
 * kafkajs failures count as "not yet" (an unreachable broker does not); after `attempts` polls it throws
 * `KAFKA_TOPICS_NOT_READY` (retriable) with the last state.
 *
 * @example
 * ```ts
 * await waitForLeaders(admin, ['llmo.run-requests'], { attempts: 20 });
 * ```
 */
export async function waitForLeaders(
  admin: Pick<TopicAdmin, 'fetchTopicMetadata' | 'fetchTopicOffsets'>,
  topics: readonly string[],
  options: WaitForLeadersOptions = {},
): Promise<void> {
  const attempts = options.attempts ?? 20;
  let delay = options.delayMs ?? 50;
  let last: unknown;
  let state = 'no metadata yet';
  for (let attempt = 1; ; attempt++) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const why = notReady(topics, meta, options.partitions ?? new Map());
      if (why === undefined) {
        // named leaders must also answer for their partitions
        await Promise.all(topics.map((t) => admin.fetchTopicOffsets(t)));
        return;
      }
      state = why;
    } catch (e) {
      if (!notYet(e)) throw e;
      last = e;
      state = e instanceof Error ? e.message : String(e);
    }
    if (attempt >= attempts) break;
    await sleep(delay, options.signal);
    delay = Math.min(1000, delay * 2);
  }
  throw new OrchestratorError('KAFKA_TOPICS_NOT_READY', `topics have no serving leader after ${attempts} metadata polls: ${state}`, {
    retriable: true, ...(last === undefined ? {} : { cause: last }),
  });
}

/**
 * Creates the missing ones of `topics` (idempotent, a concurrent creator is fine)
 * and waits until every partition is served. Connects and disconnects `admin`.
 *
 * @example
 * ```ts
 * await ensureTopics(kafka.admin(), { topics: Object.values(topicNames('prod')), partitions: 6, replicationFactor: 1 });
 * ```
 */
export async function ensureTopics(admin: TopicAdmin, options: EnsureTopicsOptions): Promise<void> {
  const log = options.logger ?? silentLogger;
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = options.topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor })),
      });
      log.debug({ topics: missing }, 'created topics');
    }
    await waitForLeaders(admin, options.topics, {
      attempts: options.attempts, delayMs: options.delayMs, signal: options.signal,
      partitions: new Map(missing.map((t) => [t, options.partitions])),
    });
  } finally {
    await admin.disconnect();
  }
}
