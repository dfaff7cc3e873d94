/**
 * Groupless reads: a throwaway consumer group per subscription, nothing
 * committed, from the oldest message or from now. "Now" is exact: the topic's
 * end offsets are taken before the consumer joins and each partition is sought
 * to them on the first join, so nothing sent after `onReady` is missed and
 * nothing older is read (a client's start-up cost does not grow with the topic).
 * With `onCaughtUp`, the low and high offsets of every partition are taken too, and
 * it is called once each partition's position reached the high offset it had then
 * (what a reader of a compacted topic waits for before acting on the latest value
 * per key; a batch of only control records counts by its last offset). One case never
 * catches up: a partition whose last records compaction removed altogether (a tombstone
 * older than `delete.retention.ms` as its very last record), as nothing is left to reach
 * the old high offset; the transport never writes tombstones. Unsubscribing disconnects the consumer. A broker restart is survived: every
 * rejoin seeks to the next offset of each partition, and a crashed consumer is
 * re-created there (see {@link readTopic}).
 * Any failure (no broker, topics not ready, a kafkajs error while starting, or
 * crashes that go on) errors the Observable with a `KAFKA_*` OrchestratorError carrying `retriable`
 * and the kafkajs error as `cause`; nothing is thrown or left unhandled.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { Observable } from 'rxjs';
import type { Codec } from '../codec.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { Envelope } from '../transport.ts';
import { decodeRecord, headersOf, keyOf } from './decode.ts';
import { kafkaFailure } from './failures.ts';

/**
 * What {@link readTopic} needs.
 *
 * @example
 * ```ts
 * readTopic('result', { kafka, topic, codec, groupPrefix: 'llmo', topicsReady }, { fromBeginning: true });
 * ```
 */
export interface ReaderDeps {
  readonly kafka: Pick<Kafka, 'consumer' | 'admin'>;
  readonly topic: string;
  readonly codec: Codec;
  /** Prefix of the throwaway group ids (`<prefix>.reader.<uuid>`). */
  readonly groupPrefix: string;
  /** Resolves once the topics exist. */
  readonly topicsReady: () => Promise<void>;
}

/**
 * Options of {@link readTopic}.
 *
 * @example
 * ```ts
 * const options: ReadOptions = { fromBeginning: false, onReady: () => sendRequests() };
 * ```
 */
export interface ReadOptions {
  /** From the oldest message, or from the end offsets at subscription time. */
  readonly fromBeginning: boolean;
  /** Called once the consumer joined and sits at its start positions: whatever is sent after is delivered. */
  readonly onReady?: () => void;
  /** Called once every message present at subscription time was delivered (or skipped as undecodable). */
  readonly onCaughtUp?: () => void;
}

/** Low and high (end) offset of each partition of `topic` now. */
async function offsetsNow(kafka: Pick<Kafka, 'admin'>, topic: string): Promise<{ partition: number; low: string; high: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Restarts of a crashed reader in a row (no join in between) before its Observable errors. */
const MAX_RESTARTS = 20;
/** Wait before the first restart of a crashed reader, ms; doubles per restart in a row, capped at {@link RESTART_BACKOFF_CAP_MS}. */
const RESTART_BACKOFF_MS = 250;
/** Longest wait between two restarts of a crashed reader, ms: short, so a reader is back soon after its broker. */
const RESTART_BACKOFF_CAP_MS = 2000;

/**
 * Reads `kind` without a group: every subscription gets all messages (undecodable ones are skipped).
 * The reader survives broker restarts: it tracks the next offset of every partition it read, and
 * every (re)join seeks there, so a rejoin neither skips what was sent meanwhile nor reads anything
 * twice (with no committed offsets, kafkajs would jump to the reset position); a crashed consumer is
 * re-created at those positions after a doubling backoff, and the Observable errors only after
 * {@link MAX_RESTARTS} crashes in a row.
 *
 * @example
 * ```ts
 * readTopic('nodeResult', deps, { fromBeginning: false, onReady: () => log('positioned') })
 *   .subscribe({ next: (m) => settle(m.value), error: (e) => log(e) });
 * ```
 */
export function readTopic<K extends MessageKind>(kind: K, deps: ReaderDeps, options: ReadOptions): Observable<Envelope<Messages[K]>> {
  return new Observable<Envelope<Messages[K]>>((subscriber) => {
    let closed = false;
    let ready = false;
    let current: Consumer | undefined;
    let restarts = 0;
    let restartTimer: NodeJS.Timeout | undefined;
    /** The next offset to read of each partition: the end offsets at subscription time, then past what was delivered. */
    const positions = new Map<number, string>();
    /** Partitions not read up to the high offset they had at subscription time (with `onCaughtUp`). */
    const behind = new Map<number, bigint>();
    let caughtUp = options.onCaughtUp === undefined;
    const checkCaughtUp = (): void => {
      if (caughtUp || behind.size > 0) return;
      caughtUp = true;
      options.onCaughtUp?.();
    };
    const fail = (e: unknown): void => {
      if (closed) return;
      closed = true;
      clearTimeout(restartTimer);
      current?.disconnect().catch(() => undefined);
      subscriber.error(kafkaFailure(`reading ${deps.topic}`, e));
    };
    /** A crash (or a restart that failed): restarts after a backoff, or errors the Observable after too many in a row. */
    const crashed = (consumer: Consumer, error: unknown): void => {
      if (closed || consumer !== current) return;
      if (restarts >= MAX_RESTARTS) {
        fail(error);
        return;
      }
      const wait = Math.min(RESTART_BACKOFF_MS * 2 ** restarts, RESTART_BACKOFF_CAP_MS);
      restarts++;
      restartTimer = setTimeout(() => {
        void consumer.disconnect().catch(() => undefined).then(() => (closed ? undefined : run().catch((e: unknown) => crashed(current!, e))));
      }, wait);
    };
    /** Creates, connects and runs a consumer that starts at `positions` (or at the reset position where it has none). */
    const run = async (): Promise<void> => {
      // kafkajs must not restart it by itself: a restart of ours seeks back to the positions. A new group id
      // each time: joining the old group would wait for the crashed member's session (30 s) to expire.
      const groupId = `${deps.groupPrefix}.reader.${randomUUID()}`;
      const consumer = deps.kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { restartOnFailure: async () => false } });
      current = consumer;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (closed || consumer !== current) return;
        restarts = 0;
        for (const [partition, offset] of positions) consumer.seek({ topic: deps.topic, partition, offset });
        if (!ready) {
          ready = true;
          options.onReady?.();
          checkCaughtUp(); // nothing to read up to
        }
      });
      consumer.on(consumer.events.CRASH, (e) => crashed(consumer, e.payload.error));
      // a batch of only control records or aborted messages reaches no eachMessage: its end still counts
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        const end = behind.get(e.payload.partition);
        if (closed || consumer !== current || end === undefined || e.payload.topic !== deps.topic) return;
        if (BigInt(e.payload.lastOffset) + 1n >= end) {
          behind.delete(e.payload.partition);
          if (ready) checkCaughtUp();
        }
      });
      try {
        await consumer.connect();
        if (closed) return; // unsubscribed while connecting: the teardown's disconnect may have come too early
        await consumer.subscribe({ topic: deps.topic, fromBeginning: options.fromBeginning });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const d = await decodeRecord(deps.codec, kind, message);
            if (closed || consumer !== current) return;
            const next = BigInt(message.offset) + 1n;
            positions.set(partition, next.toString());
            if (d.ok) subscriber.next({ key: keyOf(message), value: d.value, partition, offset: message.offset, headers: headersOf(message.headers) });
            const end = behind.get(partition);
            if (end !== undefined && next >= end) {
              behind.delete(partition);
              if (ready) checkCaughtUp(); // after the last message was delivered
            }
          },
        });
      } catch (e) {
        await consumer.disconnect().catch(() => undefined);
        throw e;
      }
      if (closed) await consumer.disconnect().catch(() => undefined);
    };
    const start = async (): Promise<void> => {
      await deps.topicsReady();
      if (closed) return;
      // Taken before joining: anything sent once onReady ran has an offset at or past these.
      if (!options.fromBeginning || options.onCaughtUp !== undefined) {
        for (const e of await offsetsNow(deps.kafka, deps.topic)) {
          if (!options.fromBeginning) positions.set(e.partition, e.high);
          else if (BigInt(e.high) > BigInt(e.low)) behind.set(e.partition, BigInt(e.high));
        }
      }
      if (closed) return;
      await run();
    };
    start().catch(fail);
    return () => {
      closed = true;
      clearTimeout(restartTimer);
      current?.disconnect().catch(() => undefined);
    };
  });
}
