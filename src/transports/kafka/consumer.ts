/**
 * Group consumption with bounded handlers and prefix commits. A batch is held
 * while `maxInFlight` handlers run across all partitions (the shared Limiter,
 * awaitable form): the fetcher waits for the batch, so lag grows instead of
 * memory. Offsets are resolved only up to the first unfinished message and
 * committed as that prefix grows, so a crash redelivers what was in flight plus
 * what finished during the last commit round trip. Records that cannot be
 * decoded or checked are dead-lettered and count as finished.
 * @module
 */
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../logger.ts';
import { Limiter } from '../../primitives/limiter.ts';
import type { Codec } from '../codec.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { Consumption, ConsumeOptions, Envelope } from '../transport.ts';
import { decodeRecord, keyOf } from './decode.ts';

/**
 * What {@link consumeGroup} needs.
 *
 * @example
 * ```ts
 * const deps: GroupConsumerDeps = { kafka, topic, codec, sessionTimeoutMs: 10_000, deadLetter, log };
 * ```
 */
export interface GroupConsumerDeps {
  readonly kafka: Pick<Kafka, 'consumer'>;
  readonly topic: string;
  readonly codec: Codec;
  /** How fast a dead member's partitions move to the others, ms. */
  readonly sessionTimeoutMs: number;
  /** Dead-letters a record that failed to decode or validate. */
  readonly deadLetter: (partition: number, message: KafkaMessage, reason: string) => Promise<void>;
  readonly log: Logger;
}

/**
 * Joins `options.group` on the topic of `kind` and runs `handler` for each message, at most
 * `options.maxInFlight` at once. A setup failure disconnects the consumer and rejects.
 *
 * @example
 * ```ts
 * const c = await consumeGroup('request', deps, { group: 'workers', maxInFlight: 8 }, async (m) => handle(m.value));
 * await c.stop();
 * ```
 */
export async function consumeGroup<K extends MessageKind>(
  kind: K,
  deps: GroupConsumerDeps,
  options: ConsumeOptions,
  handler: (m: Envelope<Messages[K]>) => Promise<void>,
): Promise<Consumption> {
  const consumer: Consumer = deps.kafka.consumer({
    groupId: options.group,
    sessionTimeout: deps.sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(deps.sessionTimeoutMs / 4)),
    allowAutoTopicCreation: false,
    maxBytesPerPartition: 256 * 1024,
  });
  const slots = Limiter.awaitable(options.maxInFlight);
  let stopped = false;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: deps.topic, fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      autoCommitThreshold: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
        const offsets = batch.messages.map((m) => m.offset);
        const finished = new Set<string>();
        let next = 0;
        // Resolve only the contiguous finished prefix: the committed offset never passes an unfinished run.
        const advance = (): void => {
          const before = next;
          while (next < offsets.length && finished.has(offsets[next]!)) resolveOffset(offsets[next++]!);
          // commit as the prefix grows, one commit at a time (they coalesce under load), so a crash
          // redelivers what was in flight plus what finished during one commit round trip
          if (next > before) commit();
        };
        let committing = false;
        let dirty = false;
        const commit = (): void => {
          if (committing) {
            dirty = true;
            return;
          }
          committing = true;
          commitOffsetsIfNecessary().catch(() => undefined).finally(() => {
            committing = false;
            if (dirty) {
              dirty = false;
              commit();
            }
          });
        };
        const beat = setInterval(() => { heartbeat().catch(() => undefined); }, 1000);
        const running: Promise<void>[] = [];
        const over = (): boolean => stopped || !isRunning() || isStale();
        try {
          for (const m of batch.messages) {
            if (over()) break;
            const decoded = decodeRecord(deps.codec, kind, m);
            const d = decoded instanceof Promise ? await decoded : decoded; // a Promise only when a registry schema must be fetched
            if (!d.ok) {
              await deps.deadLetter(batch.partition, m, d.reason);
              finished.add(m.offset);
              advance();
              continue;
            }
            const turn = slots.acquire(1);
            if (turn !== 'granted') await turn; // unbounded queue: never 'full'
            if (over()) {
              slots.release();
              break;
            }
            const env: Envelope<Messages[K]> = { key: keyOf(m), value: d.value, partition: batch.partition, offset: m.offset };
            running.push(
              handler(env)
                .catch((e: unknown) => deps.log.error({ err: e, topic: batch.topic, partition: batch.partition, offset: m.offset }, 'handler failed'))
                .finally(() => {
                  slots.release();
                  finished.add(m.offset);
                  advance();
                }),
            );
          }
          await Promise.all(running);
        } finally {
          clearInterval(beat);
        }
      },
    });
  } catch (e) {
    await consumer.disconnect().catch(() => undefined);
    throw e;
  }
  return {
    get inFlight() { return slots.active; },
    stop: async () => {
      stopped = true;
      await consumer.disconnect();
    },
  };
}
