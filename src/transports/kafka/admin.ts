/**
 * Topic administration: create the topics a transport uses, then wait until
 * every partition has a leader that serves it. `createTopics({ waitForLeaders })`
 * can return before the leader hosts the partition, and a producer or consumer
 * that comes right after then gets "This server does not host this
 * topic-partition"; so the metadata is polled (bounded attempts, abortable
 * waits) until every partition names a leader and every leader answers a
 * ListOffsets for its partitions.
 *
 * Topics are created with their settings (partitions, replication factor,
 * `cleanup.policy`, `retention.ms`, `min.insync.replicas`), and topics that
 * already exist are checked against them. What breaks the transport's semantics
 * fails with `TOPIC_MISMATCH` (not retriable) naming the topic, what it has and
 * what was asked:
 * - a replication factor below the asked one (the durability asked for is not there);
 * - a compacted topic that should not be (compaction keeps only the last message per
 *   key, and a run's events, tokens, results and signals share its key: a run waiting
 *   on two waits has two signals under one key).
 *
 * What is harmless is reported through `onMismatch` (a `topic.mismatch` transport event)
 * and a warning log:
 * - fewer partitions than asked (per-key order holds; at most that many consumers of a
 *   group work at once); more partitions than asked is not reported at all;
 * - a policies topic that is not compacted (every update is kept; the last per key still wins);
 * - another `retention.ms` or `min.insync.replicas` than asked (the topic's own settings stay).
 * @module
 */
import type { Admin, ConfigResourceTypes, ITopicMetadata } from 'kafkajs';
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
export type TopicAdmin = Pick<Admin, 'connect' | 'disconnect' | 'listTopics' | 'createTopics' | 'fetchTopicMetadata' | 'fetchTopicOffsets' | 'describeConfigs'>;

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
  /** `retention.ms` of created topics that are not compacted. Default: the broker's. */
  readonly retentionMs?: number | undefined;
  /** `min.insync.replicas` of created topics. Default: the broker's. */
  readonly minInsyncReplicas?: number | undefined;
  /** Topics created with `cleanup.policy=compact` (keyed, the last message per key wins); the others get `delete`. */
  readonly compacted?: readonly string[] | undefined;
  /** Called with each harmless difference of an existing topic (the harmful ones throw `TOPIC_MISMATCH`). */
  readonly onMismatch?: ((mismatch: TopicMismatch) => void) | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * A difference between an existing topic and the asked settings.
 *
 * @example
 * ```ts
 * const m: TopicMismatch = { topic: 'prod.policies', setting: 'cleanup.policy', has: 'delete', asked: 'compact', message: '...' };
 * ```
 */
export interface TopicMismatch {
  readonly topic: string;
  /** `partitions`, `replicationFactor`, `cleanup.policy`, `retention.ms` or `min.insync.replicas`. */
  readonly setting: string;
  readonly has: string;
  readonly asked: string;
  /** One line naming the topic, what it has, what was asked and what that means. */
  readonly message: string;
}

/** A mismatch and whether it breaks the transport's semantics. */
interface Finding extends TopicMismatch {
  readonly breaks: boolean;
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

/** kafkajs's `ConfigResourceTypes.TOPIC` (kafkajs is CommonJS: Node's ESM import does not see its enums). */
const TOPIC_RESOURCE: ConfigResourceTypes = 2;

/** The topic-level configs a created topic gets. */
function configsOf(topic: string, o: EnsureTopicsOptions): { name: string; value: string }[] {
  const compact = o.compacted?.includes(topic) ?? false;
  return [
    { name: 'cleanup.policy', value: compact ? 'compact' : 'delete' },
    ...(o.retentionMs === undefined || compact ? [] : [{ name: 'retention.ms', value: String(o.retentionMs) }]),
    ...(o.minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(o.minInsyncReplicas) }]),
  ];
}

/** Compares existing topics with the asked settings (see the module comment for what breaks and what does not). */
async function checkExisting(admin: TopicAdmin, topics: readonly string[], o: EnsureTopicsOptions): Promise<Finding[]> {
  if (topics.length === 0) return [];
  const found: Finding[] = [];
  const add = (topic: string, setting: string, has: string, asked: string, breaks: boolean, why: string): void => {
    found.push({ topic, setting, has, asked, breaks, message: `topic ${topic} has ${setting} ${has}, asked for ${asked}: ${why}` });
  };
  const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
  for (const t of meta) {
    const n = t.partitions.length;
    if (n > 0 && n < o.partitions) add(t.name, 'partitions', String(n), String(o.partitions), false, `at most ${n} consumers of a group work at once (per-key order holds); add partitions with kafka-topics --alter if you need more`);
    const rf = Math.min(...t.partitions.map((p) => p.replicas.length));
    if (n > 0 && rf < o.replicationFactor) add(t.name, 'replicationFactor', String(rf), String(o.replicationFactor), true, 'fewer copies than asked, messages can be lost with a broker; reassign the partitions or ask for the topic as it is');
  }
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['cleanup.policy', 'retention.ms', 'min.insync.replicas'] })),
  });
  for (const r of resources) {
    const config = new Map(r.configEntries.map((c) => [c.configName, c.configValue]));
    const policy = config.get('cleanup.policy') ?? 'delete';
    const compacted = policy.split(',').map((x) => x.trim()).includes('compact');
    if (o.compacted?.includes(r.resourceName) ?? false) {
      if (!compacted) add(r.resourceName, 'cleanup.policy', policy, 'compact', false, 'every update is kept (the last per key still wins); set cleanup.policy=compact to keep only the last');
    } else if (compacted) {
      add(r.resourceName, 'cleanup.policy', policy, 'delete', true, "compaction keeps only the last message per key, and a run's messages share its key; set cleanup.policy=delete or use another prefix");
    }
    const retention = config.get('retention.ms');
    if (o.retentionMs !== undefined && !compacted && retention !== undefined && retention !== String(o.retentionMs)) {
      add(r.resourceName, 'retention.ms', retention, String(o.retentionMs), false, 'the topic keeps its own retention; change it with kafka-configs --alter');
    }
    const isr = config.get('min.insync.replicas');
    if (o.minInsyncReplicas !== undefined && isr !== undefined && isr !== String(o.minInsyncReplicas)) {
      add(r.resourceName, 'min.insync.replicas', isr, String(o.minInsyncReplicas), false, 'the topic keeps its own setting; change it with kafka-configs --alter');
    }
  }
  return found;
}

/**
 * Creates the missing ones of `topics` (idempotent, a concurrent creator is fine)
 * and waits until every partition is served. Connects and disconnects `admin`.
 * Existing topics are checked first: a difference that breaks the transport's semantics
 * throws `TOPIC_MISMATCH` (not retriable), a harmless one goes to `onMismatch` and the log.
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
    const findings = await checkExisting(admin, options.topics.filter((t) => existing.has(t)), options);
    const broken = findings.filter((f) => f.breaks);
    for (const { breaks: _breaks, ...m } of findings.filter((f) => !f.breaks)) {
      log.warn({ topic: m.topic, setting: m.setting, has: m.has, asked: m.asked }, m.message);
      options.onMismatch?.(m);
    }
    if (broken.length > 0) {
      throw new OrchestratorError('TOPIC_MISMATCH', `existing topics do not fit: ${broken.map((f) => f.message).join('; ')}`, { retriable: false });
    }
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor, configEntries: configsOf(topic, options),
        })),
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
