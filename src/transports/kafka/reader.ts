/**
 * Groupless reads: a throwaway consumer group per subscription, nothing
 * committed, from the oldest message or from now. Unsubscribing disconnects it.
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
  readonly kafka: Pick<Kafka, 'consumer'>;
  readonly topic: string;
  readonly codec: Codec;
  /** Prefix of the throwaway group ids (`<prefix>.reader.<uuid>`). */
  readonly groupPrefix: string;
  /** Resolves once the topics exist. */
  readonly topicsReady: () => Promise<void>;
}

/**
 * Reads `kind` without a group: every subscription gets all messages (undecodable ones are skipped).
 *
 * @example
 * ```ts
 * readTopic('nodeResult', deps, { fromBeginning: true }).subscribe({ next: (m) => settle(m.value), error: (e) => log(e) });
 * ```
 */
export function readTopic<K extends MessageKind>(kind: K, deps: ReaderDeps, options: { readonly fromBeginning: boolean }): Observable<Envelope<Messages[K]>> {
  return new Observable<Envelope<Messages[K]>>((subscriber) => {
    const consumer = deps.kafka.consumer({ groupId: `${deps.groupPrefix}.reader.${randomUUID()}`, allowAutoTopicCreation: false });
    let closed = false;
    const start = async (): Promise<void> => {
      await deps.topicsReady();
      if (closed) return;
      await consumer.connect();
      if (closed) return; // unsubscribed while connecting: the teardown's disconnect may have come too early
      await consumer.subscribe({ topic: deps.topic, fromBeginning: options.fromBeginning });
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
