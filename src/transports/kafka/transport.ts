/**
 * The Kafka transport (kafkajs, Avro via avsc). Keys are run or request ids, so
 * one run's messages stay ordered in one partition. Consumers hold their batch
 * while `maxInFlight` handlers run (the fetcher waits for the batch: real
 * backpressure, lag grows instead of memory) and resolve offsets only up to the
 * first unfinished message, committing as that prefix grows: a crash redelivers
 * what was in flight plus what finished during the last commit round trip.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Producer, type IHeaders } from 'kafkajs';
import { Observable } from 'rxjs';
import { silentLogger, type Logger } from '../../logger.ts';
import { Codec, createCodec } from '../codec.ts';
import { checkMessage } from '../checks.ts';
import { MESSAGE_KINDS, type MessageKind, type Messages } from '../messages.ts';
import { topicNames, type Consumption, type ConsumeOptions, type Envelope, type TopicNames, type Transport } from '../transport.ts';

/** Options of {@link createKafkaTransport}. */
export interface KafkaTransportOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Topic name prefix. Default `llmo`. */
  readonly prefix?: string;
  /** Partitions of topics this transport creates. Default 6. */
  readonly partitions?: number;
  readonly replicationFactor?: number;
  /** Consumer session timeout (how fast a dead worker's partitions move). Default 10000. */
  readonly sessionTimeoutMs?: number;
  readonly logger?: Logger;
  readonly codec?: Codec;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'debug', [logLevel.DEBUG]: 'debug',
};

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[0] : v;
    if (one !== undefined) out[k] = Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
  }
  return out;
}

/** A counting semaphore for handlers in flight across partitions. */
class Slots {
  active = 0;
  readonly #waiters: (() => void)[] = [];
  constructor(readonly size: number) {}
  acquire(): Promise<void> | undefined {
    if (this.active < this.size) {
      this.active++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiters.push(() => { this.active++; resolve(); }));
  }
  release(): void {
    this.active--;
    this.#waiters.shift()?.();
  }
}

class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly topics: TopicNames;
  readonly #kafka: Kafka;
  readonly #codec: Codec;
  readonly #log: Logger;
  readonly #options: KafkaTransportOptions;
  #producer: Promise<Producer> | undefined;
  #topicsReady: Promise<void> | undefined;
  readonly #consumers = new Set<Consumer>();

  constructor(options: KafkaTransportOptions) {
    this.#options = options;
    this.topics = topicNames(options.prefix);
    this.#codec = options.codec ?? createCodec();
    this.#log = (options.logger ?? silentLogger).child({ component: 'kafka-transport' });
    const log = this.#log;
    this.#kafka = new Kafka({
      clientId: options.clientId ?? 'llmo',
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'debug']({ kafkajs: rest }, message);
      },
    });
  }

  /** Creates the topics this transport uses (idempotent). */
  ensureTopics(): Promise<void> {
    return (this.#topicsReady ??= (async () => {
      const admin = this.#kafka.admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const missing = MESSAGE_KINDS.map((k) => this.topics[k]).filter((t) => !existing.has(t));
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((topic) => ({ topic, numPartitions: this.#options.partitions ?? 6, replicationFactor: this.#options.replicationFactor ?? 1 })),
          });
        }
      } finally {
        await admin.disconnect();
      }
    })());
  }

  #producerReady(): Promise<Producer> {
    return (this.#producer ??= (async () => {
      await this.ensureTopics();
      // Idempotent (the broker drops a retried batch it already has) and one request in flight per
      // broker: keyed messages stay in send order and are written once, even across retries.
      const p = this.#kafka.producer({ maxInFlightRequests: 1, idempotent: true, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      return p;
    })());
  }

  async send<K extends MessageKind>(kind: K, messages: readonly { readonly key: string; readonly value: Messages[K] }[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.#producerReady();
    await producer.send({
      topic: this.topics[kind],
      acks: -1,
      messages: messages.map((m) => {
        const e = this.#codec.encode(kind, m.value);
        return { key: m.key, value: e.value, headers: e.headers };
      }),
    });
  }

  #decode<K extends MessageKind>(kind: K, m: KafkaMessage): { ok: true; value: Messages[K] } | { ok: false; reason: string } {
    const d = this.#codec.decode(kind, m.value, headersOf(m.headers));
    if (!d.ok) return d;
    const reason = checkMessage(kind, d.value);
    return reason === undefined ? d : { ok: false, reason };
  }

  async #deadLetter(kind: MessageKind, partition: number, m: KafkaMessage, reason: string): Promise<void> {
    this.#log.warn({ topic: this.topics[kind], partition, offset: m.offset, reason }, 'dead-lettering a message');
    await this.send('deadLetter', [{
      key: m.key?.toString('utf8') ?? '',
      value: {
        topic: this.topics[kind], partition, offset: m.offset, reason, key: m.key ?? null, value: m.value ?? null,
        headers: headersOf(m.headers), ts: Date.now(),
      },
    }]);
  }

  async consume<K extends MessageKind>(kind: K, options: ConsumeOptions, handler: (m: Envelope<Messages[K]>) => Promise<void>): Promise<Consumption> {
    await this.ensureTopics();
    const consumer = this.#kafka.consumer({
      groupId: options.group,
      sessionTimeout: this.#options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: Math.min(3000, Math.floor((this.#options.sessionTimeoutMs ?? 10_000) / 4)),
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 256 * 1024,
    });
    this.#consumers.add(consumer);
    const slots = new Slots(options.maxInFlight);
    let stopped = false;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topics[kind], fromBeginning: options.fromBeginning ?? true });
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
        try {
          for (const m of batch.messages) {
            if (stopped || !isRunning() || isStale()) break;
            const d = this.#decode(kind, m);
            if (!d.ok) {
              await this.#deadLetter(kind, batch.partition, m, d.reason);
              finished.add(m.offset);
              advance();
              continue;
            }
            const wait = slots.acquire();
            if (wait !== undefined) await wait;
            if (stopped || !isRunning() || isStale()) {
              slots.release();
              break;
            }
            const env: Envelope<Messages[K]> = { key: m.key?.toString('utf8') ?? '', value: d.value, partition: batch.partition, offset: m.offset };
            running.push(
              handler(env)
                .catch((e: unknown) => this.#log.error({ err: e, topic: batch.topic, partition: batch.partition, offset: m.offset }, 'handler failed'))
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
    return {
      get inFlight() { return slots.active; },
      stop: async () => {
        stopped = true;
        await consumer.disconnect();
        this.#consumers.delete(consumer);
      },
    };
  }

  read<K extends MessageKind>(kind: K, options: { readonly fromBeginning: boolean }): Observable<Envelope<Messages[K]>> {
    return new Observable<Envelope<Messages[K]>>((subscriber) => {
      const consumer = this.#kafka.consumer({ groupId: `${this.#options.prefix ?? 'llmo'}.reader.${randomUUID()}`, allowAutoTopicCreation: false });
      let closed = false;
      void (async () => {
        await this.ensureTopics();
        await consumer.connect();
        await consumer.subscribe({ topic: this.topics[kind], fromBeginning: options.fromBeginning });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const d = this.#decode(kind, message);
            if (d.ok && !closed) subscriber.next({ key: message.key?.toString('utf8') ?? '', value: d.value, partition, offset: message.offset });
          },
        });
      })().catch((e: unknown) => subscriber.error(e));
      return () => {
        closed = true;
        consumer.disconnect().catch(() => undefined);
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.disconnect().catch(() => undefined)));
    this.#consumers.clear();
    if (this.#producer !== undefined) await (await this.#producer).disconnect();
  }
}

/**
 * Creates a Kafka transport. Library code reads no environment: pass the brokers.
 *
 * @example
 * ```ts
 * const transport = createKafkaTransport({ brokers: ['127.0.0.1:9092'], prefix: 'prod' });
 * ```
 */
export function createKafkaTransport(options: KafkaTransportOptions): Transport & { ensureTopics(): Promise<void> } {
  return new KafkaTransport(options);
}
