/**
 * The Kafka transport (kafkajs, Avro via avsc), composed KafkaJS-style from one
 * piece per concept: admin.ts (topics, and waiting until they are served),
 * producer.ts (sending), consumer.ts (group consumption with bounded handlers
 * and prefix commits), reader.ts (groupless reads). Keys are run or request ids,
 * so one run's messages stay ordered in one partition. The options are checked
 * with a zod schema; library code reads no environment.
 * @module
 */
import { Kafka, logLevel } from 'kafkajs';
import { Subject } from 'rxjs';
import * as z from 'zod';
import { toIssues, ValidationError } from '../../errors.ts';
import { isLogger, silentLogger, type Logger } from '../../logger.ts';
import type { Codec } from '../codec.ts';
import { WIRE_FORMATS } from '../framing.ts';
import { createHealthBoard, type TransportEvent } from '../health.ts';
import { MESSAGE_KINDS } from '../messages.ts';
import { topicNames, type Consumption, type Transport } from '../transport.ts';
import { ensureTopics } from './admin.ts';
import { securityFailure } from './failures.ts';
import { kafkajsSecurity, KafkaSaslSchema, KafkaSslSchema, redactKafkaOptions } from './security.ts';
import { consumeGroup } from './consumer.ts';
import { createDeadLetterer } from './dead-letter.ts';
import { createSender, DEFAULT_MAX_MESSAGE_BYTES } from './producer.ts';
import { readTopic } from './reader.ts';
import { SchemaRegistryOptionsSchema } from './registry.ts';
import { wireCodec } from './wire.ts';

const isCodec = (v: unknown): v is Codec =>
  typeof (v as Codec | null)?.encode === 'function' && typeof (v as Codec | null)?.decode === 'function';

/**
 * zod schema of {@link KafkaTransportOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * KafkaTransportOptionsSchema.parse({ brokers: ['127.0.0.1:9092'], connectionTimeoutMs: 2000, retries: 1 });
 * ```
 */
export const KafkaTransportOptionsSchema = z.strictObject({
  /** Bootstrap brokers, `host:port` each. */
  brokers: z.array(z.string().regex(/^\S+:\d+$/, 'expected host:port')).min(1, 'at least one broker').readonly(),
  /** kafkajs client id (shows in broker logs and quotas). Default `llmo`. */
  clientId: z.string().min(1).optional(),
  /** Topic name prefix. Default `llmo`. */
  prefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, `.`, `_` and `-` only (Kafka topic names)').optional(),
  /** Partitions of topics this transport creates. Default 6. */
  partitions: z.number().int().positive().optional(),
  /** Replication factor of topics this transport creates. Default 1. */
  replicationFactor: z.number().int().positive().optional(),
  /** `retention.ms` of topics this transport creates (-1: keep forever). Default: the broker's. */
  retentionMs: z.number().int().gte(-1).optional(),
  /** `min.insync.replicas` of topics this transport creates (at most `replicationFactor`). Default: the broker's. */
  minInsyncReplicas: z.number().int().positive().optional(),
  /** TLS: `true` (the system's CAs) or `{ ca, cert, key, rejectUnauthorized, servername }`, PEM texts. Default: plaintext. */
  ssl: KafkaSslSchema.optional(),
  /** SASL credentials: `{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username, password }`. Never logged. */
  sasl: KafkaSaslSchema.optional(),
  /** Consumer session timeout (how fast a dead worker's partitions move), ms. Default 10000. */
  sessionTimeoutMs: z.number().int().positive().optional(),
  /** Time to establish a connection to a broker, ms (kafkajs `connectionTimeout`). Default kafkajs's, 1000. */
  connectionTimeoutMs: z.number().int().positive().optional(),
  /**
   * Retries of a failed broker request or connection (kafkajs `retry.retries`). Default kafkajs's, 5;
   * low values make a client fail fast when no broker is reachable.
   */
  retries: z.number().int().nonnegative().optional(),
  /** pino logger (or compatible); kafkajs logs through it. Default: silent. */
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  /**
   * Largest record this transport sends, bytes (key, value, headers and framing); a larger one fails at once
   * with `KAFKA_RECORD_TOO_LARGE`, and dead letters are cut to fit it. Keep it below the broker's and topics'
   * `message.max.bytes`. Default 1,000,000 (the broker default 1,048,588 less a margin).
   */
  maxMessageBytes: z.number().int().min(4096).optional(),
  /** Avro codec. Default `createCodec()`. */
  codec: z.custom<Codec>(isCodec, 'expected a codec (createCodec())').optional(),
  /**
   * What the transport writes: `llmo` (default: Avro body + fingerprint header), `single-object` (Avro
   * single-object encoding) or `schema-registry` (Confluent wire format; needs `schemaRegistry`). It reads all three.
   */
  wireFormat: z.enum(WIRE_FORMATS).optional(),
  /** Confluent-compatible schema registry: for `wireFormat: 'schema-registry'`, and to read such records. */
  schemaRegistry: SchemaRegistryOptionsSchema.optional(),
}).refine((o) => o.minInsyncReplicas === undefined || o.minInsyncReplicas <= (o.replicationFactor ?? 1), {
  message: 'at most replicationFactor (default 1): a write with acks=all could never succeed', path: ['minInsyncReplicas'],
});

/**
 * Options of {@link createKafkaTransport}: the input type of {@link KafkaTransportOptionsSchema}, so the two cannot drift.
 *
 * @example
 * ```ts
 * const options: KafkaTransportOptions = { brokers: ['127.0.0.1:9092'], prefix: 'prod', connectionTimeoutMs: 3000, retries: 2 };
 * ```
 */
export type KafkaTransportOptions = Readonly<z.input<typeof KafkaTransportOptionsSchema>>;

/**
 * A Kafka transport: a Transport that can also create its topics ahead of time.
 *
 * @example
 * ```ts
 * const t: KafkaTransport = createKafkaTransport({ brokers });
 * await t.ensureTopics(); // before starting consumers elsewhere
 * ```
 */
export type KafkaTransport = Transport & {
  /** Creates the topics this transport uses (idempotent) and waits until every partition is served; registers the schemas when a registry is configured. */
  ensureTopics(): Promise<void>;
};

/** Longest wait between two tries of a consumer's or reader's broker request or connection, ms (kafkajs `retry.maxRetryTime`). */
const INBOUND_MAX_RETRY_MS = 1000;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'debug', [logLevel.DEBUG]: 'debug',
};

/**
 * Creates a Kafka transport. Library code reads no environment: pass the brokers.
 * Invalid options throw a ValidationError (`OPTIONS_INVALID`) naming the bad field.
 *
 * @example
 * ```ts
 * const transport = createKafkaTransport({ brokers: ['127.0.0.1:9092'], prefix: 'prod' });
 * // a CLI that should fail fast when no broker answers:
 * const quick = createKafkaTransport({ brokers, connectionTimeoutMs: 2000, retries: 1 });
 * ```
 */
export function createKafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  const parsed = KafkaTransportOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'Kafka transport options are invalid', toIssues(parsed.error.issues, ['options']));
  const prefix = options.prefix ?? 'llmo';
  const topics = topicNames(prefix);
  const codec = wireCodec(options);
  const log = (options.logger ?? silentLogger).child({ component: 'kafka-transport' });
  log.debug({ kafka: redactKafkaOptions(options) }, 'kafka transport options');
  const security = { ssl: options.ssl !== undefined && options.ssl !== false, sasl: options.sasl !== undefined };
  const client = (retry: { readonly retries?: number; readonly maxRetryTime?: number }): Kafka => new Kafka({
    clientId: options.clientId ?? 'llmo',
    brokers: [...options.brokers],
    ...kafkajsSecurity(options),
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      log[LEVELS[level] ?? 'debug']({ kafkajs: rest }, message);
    },
    ...(options.connectionTimeoutMs === undefined ? {} : { connectionTimeout: options.connectionTimeoutMs }),
    ...(Object.keys(retry).length === 0 ? {} : { retry }),
  });
  const retries = options.retries === undefined ? {} : { retries: options.retries };
  // admin and producer: kafkajs's retry schedule (its waits double up to 30 s, so a send outlasts a broker restart)
  const kafka = client(retries);
  // consumers and readers: their connects and coordinator lookups are tried again at least every second, so that
  // they are back about as soon as the broker (with kafkajs's doubling waits, 6 to 13 s later; see consumer.ts)
  const inbound = client({ ...retries, maxRetryTime: INBOUND_MAX_RETRY_MS });

  // Memoized once it succeeds; a failure (no broker yet) is not remembered, so a later call tries again.
  let topicsReady: Promise<void> | undefined;
  const ready = (): Promise<void> => (topicsReady ??= ensureTopics(kafka.admin(), {
    topics: MESSAGE_KINDS.map((k) => topics[k]), partitions: options.partitions ?? 6, replicationFactor: options.replicationFactor ?? 1, logger: log,
    retentionMs: options.retentionMs, minInsyncReplicas: options.minInsyncReplicas, compacted: [topics.policy],
    onMismatch: (m) => events.next({ type: 'topic.mismatch', ...m, ts: Date.now() }),
  }).then(() => codec.prepare(topics)).catch((e: unknown) => {
    topicsReady = undefined;
    throw securityFailure('connecting to Kafka', e, security) ?? e;
  }));

  const consumptions = new Set<Consumption>();
  const health = createHealthBoard();
  const events = new Subject<TransportEvent>();
  const emit = (e: TransportEvent): void => events.next(e);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const sender = createSender({ kafka, topics, codec, topicsReady: ready, health, emit, log, maxMessageBytes });
  const deadLetter = createDeadLetterer({ send: (m) => sender.send('deadLetter', m), codec, maxMessageBytes, emit, log });

  return {
    kind: 'kafka',
    topics,
    health,
    events$: events.asObservable(),
    ensureTopics: ready,
    send: (kind, messages) => sender.send(kind, messages),
    async consume(kind, consumeOptions, handler) {
      await ready();
      const c = await consumeGroup(kind, {
        kafka: inbound, topic: topics[kind], codec, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, log, health, emit: (e) => events.next(e),
        deadLetter: (partition, m, reason) => deadLetter(topics[kind], partition, m, reason),
      }, consumeOptions, handler);
      consumptions.add(c);
      return {
        get inFlight() { return c.inFlight; },
        stop: async () => {
          await c.stop();
          consumptions.delete(c);
        },
      };
    },
    read: (kind, readOptions) => readTopic(kind, { kafka: inbound, topic: topics[kind], codec, groupPrefix: prefix, topicsReady: ready }, readOptions),
    async close() {
      await Promise.all([...consumptions].map((c) => c.stop().catch(() => undefined)));
      consumptions.clear();
      await sender.close();
      events.complete();
    },
  };
}
