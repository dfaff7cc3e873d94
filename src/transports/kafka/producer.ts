/**
 * The sending side: one idempotent kafkajs producer per transport, connected on
 * first use once the topics exist. One request in flight per broker, so keyed
 * messages stay in send order and are written once, even across retries.
 *
 * Under faults: a producer whose id the broker no longer accepts (out-of-order
 * sequence number, unknown producer id, fenced epoch, typically after a broker
 * restart) is replaced by a new one (a new producer id) and the send is tried
 * again, a bounded number of times. After any other failed send the producer
 * is replaced too, before the next send: the broker may have written the batch
 * although the answer was lost, and kafkajs would then reuse its sequence
 * numbers (the next batch refused as out of order, or dropped as a duplicate);
 * a retried batch may so be written twice (at-least-once), never lost. The health component `producer` is `down`
 * while sends fail and `up` again after a success; every failure that escapes is
 * a `publish.failed` event. Records over `maxMessageBytes` fail at once with
 * `KAFKA_RECORD_TOO_LARGE` (not retriable), and a send is split into requests of
 * at most `maxMessageBytes`, so many small records never add up to a refused batch.
 * @module
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { OrchestratorError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import type { Codec } from '../codec.ts';
import type { HealthBoard, TransportEvent } from '../health.ts';
import type { MessageKind, Messages } from '../messages.ts';
import type { OutMessage, TopicNames } from '../transport.ts';
import { kafkaFailure } from './failures.ts';

/**
 * Default largest record (key, value and headers, plus framing), bytes: the broker's default
 * `message.max.bytes` (1,048,588) less a margin for the batch header and protocol framing.
 *
 * @example
 * ```ts
 * createKafkaTransport({ brokers, maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES / 2 });
 * ```
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

/** Bytes a record adds to its key, value and headers inside a batch (lengths, attributes, deltas; generous). */
const RECORD_OVERHEAD = 64;

/**
 * kafkajs protocol error types after which a producer id is no good any more: only a new producer helps.
 *
 * @example
 * ```ts
 * PRODUCER_STATE_ERRORS.has('OUT_OF_ORDER_SEQUENCE_NUMBER'); // true
 * ```
 */
export const PRODUCER_STATE_ERRORS: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING',
]);

const TOO_LARGE_ERRORS: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * The first kafkajs protocol error type in `e`, its causes or its aggregated errors that is in `types`.
 *
 * @example
 * ```ts
 * kafkaErrorType(e, PRODUCER_STATE_ERRORS); // 'OUT_OF_ORDER_SEQUENCE_NUMBER' or undefined
 * ```
 */
export function kafkaErrorType(e: unknown, types: ReadonlySet<string>): string | undefined {
  const todo: unknown[] = [e];
  for (let i = 0; i < todo.length && i < 32; i++) {
    const c = todo[i] as { type?: unknown; cause?: unknown; errors?: unknown } | null;
    if (typeof c !== 'object' || c === null) continue;
    if (typeof c.type === 'string' && types.has(c.type)) return c.type;
    if (c.cause !== undefined && c.cause !== c) todo.push(c.cause);
    if (Array.isArray(c.errors)) todo.push(...(c.errors as unknown[]));
  }
  return undefined;
}

/**
 * What {@link createSender} needs.
 *
 * @example
 * ```ts
 * createSender({ kafka, topics: topicNames('prod'), codec: createCodec(), topicsReady: () => ensureTopics(), health, emit: (e) => events.next(e) });
 * ```
 */
export interface SenderDeps {
  readonly kafka: Pick<Kafka, 'producer'>;
  readonly topics: TopicNames;
  readonly codec: Codec;
  /** Resolves once the topics exist (the producer does not create topics). */
  readonly topicsReady: () => Promise<void>;
  /** Where the component `producer` reports its status. */
  readonly health?: HealthBoard | undefined;
  /** Receives `publish.failed` and `producer.recreated`. */
  readonly emit?: ((event: TransportEvent) => void) | undefined;
  readonly log?: Logger | undefined;
  /** Largest record, bytes; also the most bytes in one produce request. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number | undefined;
  /** Times a producer is replaced for one send before the send fails. Default 3. */
  readonly recreateAttempts?: number | undefined;
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
  /** Sends in order; rejects with an OrchestratorError (`KAFKA_RECORD_TOO_LARGE`, `KAFKA_UNREACHABLE`, `KAFKA_FAILED`). */
  send<K extends MessageKind>(kind: K, messages: readonly OutMessage<Messages[K]>[]): Promise<void>;
  close(): Promise<void>;
}

interface OutRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
  readonly size: number;
}

/**
 * Bytes a record takes in a batch: key, value, header names and values, plus framing.
 *
 * @example
 * ```ts
 * recordBytes('run-1', encoded.value, encoded.headers) <= maxMessageBytes;
 * ```
 */
export function recordBytes(key: string, value: Buffer | null, headers: Readonly<Record<string, string>>): number {
  let n = RECORD_OVERHEAD + Buffer.byteLength(key) + (value?.length ?? 0);
  for (const [k, v] of Object.entries(headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  return n;
}

/** Consecutive runs of records of at most `limit` bytes each (a record alone may be the whole run). */
function chunks(records: readonly OutRecord[], limit: number): OutRecord[][] {
  const out: OutRecord[][] = [];
  let cur: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (cur.length > 0 && bytes + r.size > limit) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += r.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Creates the sender of a transport. A failed connection is not remembered: the next send tries again.
 *
 * @example
 * ```ts
 * const sender = createSender({ kafka, topics, codec, topicsReady: () => ensureTopics(), health });
 * await sender.send('request', [{ key: id, value: request }]);
 * ```
 */
export function createSender(deps: SenderDeps): Sender {
  const limit = deps.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const recreateAttempts = deps.recreateAttempts ?? 3;
  const log = deps.log ?? silentLogger;
  const emit = deps.emit ?? ((): void => undefined);
  const health = deps.health;
  let producer: Promise<Producer> | undefined;
  let generation = 0;
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
  /**
   * Drops the producer of generation `gen` (unless another send already replaced it) and disconnects it;
   * the next send connects a new one (a new producer id, sequence numbers from 0).
   */
  const recreate = async (gen: number, reason: string): Promise<void> => {
    if (gen !== generation) return;
    generation++;
    const old = await producer?.catch(() => undefined);
    producer = undefined;
    if (old === undefined) return; // none connected: nothing to replace
    await old.disconnect().catch(() => undefined);
    log.warn({ reason }, 'replacing the Kafka producer');
    emit({ type: 'producer.recreated', reason, ts: Date.now() });
  };
  const failed = (topic: string, messages: number, error: OrchestratorError): OrchestratorError => {
    emit({ type: 'publish.failed', topic, messages, reason: error.message, retriable: error.retriable, ts: Date.now() });
    return error;
  };

  const sendChunk = async (topic: string, chunk: readonly OutRecord[], left: number): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const gen = generation;
      try {
        const p = await ready();
        await p.send({ topic, acks: -1, messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
        health?.set('producer', 'up');
        return;
      } catch (e) {
        const state = kafkaErrorType(e, PRODUCER_STATE_ERRORS);
        if (state !== undefined && attempt < recreateAttempts) {
          health?.set('producer', 'degraded', `replacing the producer after ${state}`);
          await recreate(gen, `${state} sending to ${topic}`);
          continue;
        }
        const tooLarge = kafkaErrorType(e, TOO_LARGE_ERRORS);
        if (tooLarge !== undefined) {
          const bytes = chunk.reduce((n, r) => n + r.size, 0);
          throw failed(topic, left, new OrchestratorError('KAFKA_RECORD_TOO_LARGE',
            `${topic}: the broker refused ${chunk.length} record(s) of ${bytes} bytes as too large (${tooLarge}); its message.max.bytes is below the limit of ${limit} bytes (maxMessageBytes)`,
            { retriable: false, cause: e }));
        }
        const error = state === undefined
          ? kafkaFailure(`publishing to ${topic}`, e)
          : new OrchestratorError('KAFKA_FAILED', `publishing to ${topic}: ${state} after replacing the producer ${recreateAttempts} times`, { retriable: true, cause: e });
        health?.set('producer', 'down', error.message);
        // The outcome is unknown (the broker may have written the batch and its answer got lost), and kafkajs
        // then reuses the batch's sequence numbers: the next batch would be refused as out of order (and every
        // one after it), or, of the same size, taken for a retry and dropped. A new producer starts clean.
        await recreate(gen, `send failed with an unknown outcome: ${error.message}`);
        throw failed(topic, left, error);
      }
    }
  };

  return {
    async send(kind, messages) {
      if (messages.length === 0) return;
      const topic = deps.topics[kind];
      await deps.topicsReady(); // the codec may need the ready step first (schema ids registered)
      const records = messages.map((m): OutRecord => {
        const e = deps.codec.encode(kind, m.value);
        const headers = m.headers === undefined ? e.headers : { ...m.headers, ...e.headers };
        return { key: m.key, value: e.value, headers, size: recordBytes(m.key, e.value, headers) };
      });
      const big = records.findIndex((r) => r.size > limit);
      if (big >= 0) {
        throw failed(topic, messages.length, new OrchestratorError('KAFKA_RECORD_TOO_LARGE',
          `${topic}: a ${kind} record of ${records[big]!.size} bytes (key '${records[big]!.key}') is over the limit of ${limit} bytes (maxMessageBytes); nothing of this send was written`,
          { retriable: false }));
      }
      let left = records.length;
      for (const chunk of chunks(records, limit)) {
        await sendChunk(topic, chunk, left);
        left -= chunk.length;
      }
    },
    async close() {
      if (producer !== undefined) await (await producer.catch(() => undefined))?.disconnect();
    },
  };
}
