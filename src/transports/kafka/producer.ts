/**
 * The sending side: one idempotent kafkajs producer per transport, connected on
 * first use once the topics exist. One request in flight per broker, so keyed
 * messages stay in send order and are written once, even across retries.
 * @module
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Codec } from '../codec.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { TopicNames } from '../transport.ts';

/**
 * What {@link createSender} needs.
 *
 * @example
 * ```ts
 * createSender({ kafka, topics: topicNames('prod'), codec: createCodec(), topicsReady: () => ensureTopics() });
 * ```
 */
export interface SenderDeps {
  readonly kafka: Pick<Kafka, 'producer'>;
  readonly topics: TopicNames;
  readonly codec: Codec;
  /** Resolves once the topics exist (the producer does not create topics). */
  readonly topicsReady: () => Promise<void>;
}

/**
 * Sends messages of any kind; `close` disconnects.
 *
 * @example
 * ```ts
 * await sender.send('audit', [{ key: runId, value: audit }]);
 * await sender.close();
 * ```
 */
export interface Sender {
  send<K extends MessageKind>(kind: K, messages: readonly { readonly key: string; readonly value: Messages[K] }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates the sender of a transport. A failed connection is not remembered: the next send tries again.
 *
 * @example
 * ```ts
 * const sender = createSender({ kafka, topics, codec, topicsReady: () => ensureTopics() });
 * await sender.send('request', [{ key: id, value: request }]);
 * ```
 */
export function createSender(deps: SenderDeps): Sender {
  let producer: Promise<Producer> | undefined;
  const ready = (): Promise<Producer> => (producer ??= (async () => {
    await deps.topicsReady();
    // Idempotent (the broker drops a retried batch it already has) and one request in flight per
    // broker: keyed messages stay in send order and are written once, even across retries.
    const p = deps.kafka.producer({ maxInFlightRequests: 1, idempotent: true, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    return p;
  })().catch((e: unknown) => {
    producer = undefined;
    throw e;
  }));
  return {
    async send(kind, messages) {
      if (messages.length === 0) return;
      const p = await ready();
      await p.send({
        topic: deps.topics[kind],
        acks: -1,
        messages: messages.map((m) => {
          const e = deps.codec.encode(kind, m.value);
          return { key: m.key, value: e.value, headers: e.headers };
        }),
      });
    },
    async close() {
      if (producer !== undefined) await (await producer.catch(() => undefined))?.disconnect();
    },
  };
}
