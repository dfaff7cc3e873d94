/**
 * Groupless reads: a throwaway consumer group per subscription, nothing
 * committed, from the oldest message or from now. "Now" is exact: the topic's
 * end offsets are taken before the consumer joins and each partition is sought
 * to them on the first join, so nothing sent after `onReady` is missed and
 * nothing older is read (a client's start-up cost does not grow with the topic).
 * Unsubscribing disconnects the consumer.
 * Any failure (no broker, topics not ready, a kafkajs error while starting)
 * errors the Observable with a `KAFKA_*` OrchestratorError carrying `retriable`
 * and the kafkajs error as `cause`; nothing is thrown or left unhandled.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Observable } from 'rxjs';
import type { Codec } from '../codec.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { Envelope } from '../transport.ts';
import { decodeRecord, keyOf } from './decode.ts';
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
}

/** End offset of each partition of `topic` now. */
async function endOffsets(kafka: Pick<Kafka, 'admin'>, topic: string): Promise<{ partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Reads `kind` without a group: every subscription gets all messages (undecodable ones are skipped).
 *
 * @example
 * ```ts
 * readTopic('nodeResult', deps, { fromBeginning: false, onReady: () => log('positioned') })
 *   .subscribe({ next: (m) => settle(m.value), error: (e) => log(e) });
 * ```
 */
export function readTopic<K extends MessageKind>(kind: K, deps: ReaderDeps, options: ReadOptions): Observable<Envelope<Messages[K]>> {
  return new Observable<Envelope<Messages[K]>>((subscriber) => {
    const consumer = deps.kafka.consumer({ groupId: `${deps.groupPrefix}.reader.${randomUUID()}`, allowAutoTopicCreation: false });
    let closed = false;
    let joined = false;
    const start = async (): Promise<void> => {
      await deps.topicsReady();
      if (closed) return;
      // Taken before joining: anything sent once onReady ran has an offset at or past these.
      const ends = options.fromBeginning ? [] : await endOffsets(deps.kafka, deps.topic);
      if (closed) return;
      await consumer.connect();
      if (closed) return; // unsubscribed while connecting: the teardown's disconnect may have come too early
      await consumer.subscribe({ topic: deps.topic, fromBeginning: options.fromBeginning });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (joined || closed) return; // a later rejoin keeps the positions it has
        joined = true;
        for (const e of ends) consumer.seek({ topic: deps.topic, partition: e.partition, offset: e.offset });
        options.onReady?.();
      });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const d = await decodeRecord(deps.codec, kind, message);
          if (d.ok && !closed) subscriber.next({ key: keyOf(message), value: d.value, partition, offset: message.offset });
        },
      });
    };
    start().then(
      () => {
        if (closed) consumer.disconnect().catch(() => undefined);
      },
      (e: unknown) => {
        consumer.disconnect().catch(() => undefined);
        if (!closed) subscriber.error(kafkaFailure(`reading ${deps.topic}`, e));
      },
    );
    return () => {
      closed = true;
      consumer.disconnect().catch(() => undefined);
    };
  });
}
