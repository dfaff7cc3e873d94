/**
 * A prototype `Transport` on `@platformatic/kafka` 1.35 (bench only, to compare
 * clients on the same workloads). Wire-compatible with `createKafkaTransport`:
 * the same topic names, our Avro codec for bodies and headers, keys as UTF-8,
 * and the Java/kafkajs partitioner (`compatibilityPartitioner`; the library's
 * default `murmur2 >>> 0` puts a key on another partition than kafkajs does).
 * Semantics as ours: an idempotent producer with acks from all replicas, one
 * send in flight (see `send`: 1.35 loses concurrent idempotent sends); group
 * consumption with at most `maxInFlight` handlers (the stream is paused at the
 * limit), offsets committed only up to the first unfinished message of each
 * partition (at-least-once), undecodable records dead-lettered; groupless reads
 * on a throwaway group. Not done (prototype): producer re-creation, restarting a
 * crashed consumer, retries of a failed handler.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  Admin, compatibilityPartitioner, Consumer, MessagesStreamFallbackModes, MessagesStreamModes, ProduceAcks, Producer, type Message, type MessagesStream,
} from '@platformatic/kafka';
import { Observable, Subject } from 'rxjs';
import { OrchestratorError } from '../../src/errors.ts';
import { checkMessage } from '../../src/transports/checks.ts';
import { createCodec, type Codec, type Decoded } from '../../src/transports/codec.ts';
import { createHealthBoard, type TransportEvent } from '../../src/transports/health.ts';
import { MESSAGE_KINDS, type MessageKind, type Messages } from '../../src/transports/messages.ts';
import { topicNames, type Consumption, type Envelope } from '../../src/transports/transport.ts';
import { sleep } from '../lib/measure.ts';
import type { BenchTransport } from './llm-orchestrator-kafka.ts';

/** Options of {@link createPlatformaticTransport} (the subset of ours the bench needs). */
export interface PlatformaticTransportOptions {
  readonly brokers: readonly string[];
  readonly prefix: string;
  readonly clientId: string;
  /** Partitions of topics it creates. Default 6. */
  readonly partitions?: number;
  /** Consumer session timeout, ms. Default 10000. */
  readonly sessionTimeoutMs?: number;
  readonly codec?: Codec;
}

type Raw = Message<Buffer, Buffer, Buffer, Buffer>;

const headersOf = (m: Raw): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of m.headers) out[k.toString('utf8')] = v.toString('utf8');
  return out;
};
const keyOf = (m: Raw): string => m.key?.toString('utf8') ?? '';
/** Closes a consumer even with a stream open (`force`); never rejects. */
const closeConsumer = (c: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> =>
  new Promise<void>((resolve) => { c.close(true, () => resolve()); });
const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function decode<K extends MessageKind>(codec: Codec, kind: K, m: Raw): Decoded<Messages[K]> {
  const d = codec.decode(kind, m.value ?? null, headersOf(m));
  if (!d.ok) return d;
  const reason = checkMessage(kind, d.value);
  return reason === undefined ? d : { ok: false, reason };
}

/**
 * Creates the prototype transport.
 *
 * @example
 * ```ts
 * const t = createPlatformaticTransport({ brokers: ['127.0.0.1:9092'], prefix: 'bench', clientId: 'w12' });
 * await t.ensureTopics();
 * ```
 */
export function createPlatformaticTransport(options: PlatformaticTransportOptions): BenchTransport {
  const topics = topicNames(options.prefix);
  const codec = options.codec ?? createCodec();
  const base = { clientId: options.clientId, bootstrapBrokers: [...options.brokers] };
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  const health = createHealthBoard();
  const events = new Subject<TransportEvent>();
  const consumptions = new Set<Consumption>();
  let producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;

  let topicsReady: Promise<void> | undefined;
  const ready = (): Promise<void> => (topicsReady ??= ensureTopics().catch((e: unknown) => {
    topicsReady = undefined;
    throw e;
  }));
  async function ensureTopics(): Promise<void> {
    const admin = new Admin(base);
    try {
      const wanted = MESSAGE_KINDS.map((k) => topics[k]);
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length > 0) await admin.createTopics({ topics: missing, partitions: options.partitions ?? 6, replicas: 1 });
      // until every partition of every topic names a leader
      for (let attempt = 0; ; attempt++) {
        const meta = await admin.metadata({ topics: wanted, forceUpdate: true }).catch(() => undefined);
        const served = meta !== undefined && wanted.every((t) => {
          const tm = meta.topics.get(t);
          return tm !== undefined && tm.partitionsCount > 0 && tm.partitions.every((p) => p.leader >= 0);
        });
        if (served) return;
        if (attempt >= 40) throw new OrchestratorError('KAFKA_TOPICS_NOT_READY', 'topics have no serving leader after 40 metadata polls', { retriable: true });
        await sleep(100);
      }
    } finally {
      await admin.close();
    }
  }

  const producerOf = async (): Promise<Producer<Buffer, Buffer, Buffer, Buffer>> => {
    await ready();
    return (producer ??= new Producer({ ...base, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false, partitioner: compatibilityPartitioner }));
  };
  // One send at a time: concurrent send() calls on an idempotent 1.35 producer are acknowledged but
  // all but the first per partition are dropped by the broker as duplicates (same sequence number;
  // upstream issue platformatic/kafka#326). Serialising also keeps keyed messages in send order.
  let queue: Promise<unknown> = Promise.resolve();
  const send = <K extends MessageKind>(kind: K, messages: readonly { readonly key: string; readonly value: Messages[K] }[]): Promise<void> => {
    const turn = queue.then(() => sendNow(kind, messages));
    queue = turn.catch(() => undefined);
    return turn;
  };
  const sendNow = async <K extends MessageKind>(kind: K, messages: readonly { readonly key: string; readonly value: Messages[K] }[]): Promise<void> => {
    if (messages.length === 0) return;
    const p = await producerOf();
    try {
      await p.send({
        messages: messages.map((m) => {
          const e = codec.encode(kind, m.value);
          const headers = new Map<Buffer, Buffer>();
          for (const [k, v] of Object.entries(e.headers)) headers.set(Buffer.from(k), Buffer.from(v));
          return { topic: topics[kind], key: Buffer.from(m.key), value: e.value, headers };
        }),
      });
      health.set('producer', 'up');
    } catch (e) {
      health.set('producer', 'down', reasonOf(e));
      events.next({ type: 'publish.failed', topic: topics[kind], messages: messages.length, reason: reasonOf(e), retriable: true, ts: Date.now() });
      throw new OrchestratorError('KAFKA_FAILED', `sending to ${topics[kind]}: ${reasonOf(e)}`, { retriable: true, cause: e });
    }
  };
  const deadLetter = async (kind: MessageKind, m: Raw, reason: string): Promise<void> => {
    await send('deadLetter', [{
      key: keyOf(m),
      value: { topic: topics[kind], partition: m.partition, offset: String(m.offset), reason, key: m.key ?? null, value: m.value ?? null, headers: headersOf(m), ts: Date.now() },
    }]);
    events.next({ type: 'dead-lettered', topic: topics[kind], partition: m.partition, offset: String(m.offset), reason, truncated: false, ts: Date.now() });
  };

  const consumerOf = (groupId: string): Consumer<Buffer, Buffer, Buffer, Buffer> =>
    new Consumer({ ...base, groupId, sessionTimeout, heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 4)), autocommit: false });

  return {
    kind: 'kafka',
    topics,
    health,
    events$: events.asObservable(),
    ensureTopics: ready,
    send,
    async consume(kind, consumeOptions, handler) {
      await ready();
      const topic = topics[kind];
      const part = `consumer:${topic}`;
      const consumer = consumerOf(consumeOptions.group);
      let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
      try {
        stream = await consumer.consume({
          topics: [topic], autocommit: false, maxBytesPerPartition: 256 * 1024,
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: consumeOptions.fromBeginning === false ? MessagesStreamFallbackModes.LATEST : MessagesStreamFallbackModes.EARLIEST,
        });
      } catch (e) {
        await closeConsumer(consumer);
        throw new OrchestratorError('KAFKA_FAILED', `consuming ${topic}: ${reasonOf(e)}`, { retriable: true, cause: e });
      }
      health.set(part, 'up');
      // Per (generation, partition): offsets in arrival order, and which are done. Only the done
      // prefix is committed (the message at its end commits offset + 1), one commit at a time.
      const partitions = new Map<string, { offsets: bigint[]; head: number; done: Set<bigint> }>();
      const toCommit = new Map<string, Raw>();
      let committing: Promise<void> | undefined;
      const commit = (): void => {
        if (committing !== undefined || toCommit.size === 0) return;
        const batch = [...toCommit.values()];
        toCommit.clear();
        committing = Promise.all(batch.map((m) => m.commit())).then(
          () => undefined,
          (e: unknown) => { events.next({ type: 'commit.failed', topic, group: consumeOptions.group, reason: reasonOf(e), ts: Date.now() }); },
        ).finally(() => {
          committing = undefined;
          commit();
        });
      };
      let inFlight = 0;
      let stopped = false;
      let idle: (() => void) | undefined;
      const started = new Map<string, Map<bigint, Raw>>();
      stream.on('data', (m: Raw) => {
        if (stopped) return;
        const key = `${String((m.metadata['consumer'] as { generationId?: number } | undefined)?.generationId)}:${m.partition}`;
        let p = partitions.get(key);
        if (p === undefined) partitions.set(key, (p = { offsets: [], head: 0, done: new Set() }));
        p.offsets.push(m.offset);
        let byOffset = started.get(key);
        if (byOffset === undefined) started.set(key, (byOffset = new Map()));
        byOffset.set(m.offset, m);
        const settle = (): void => {
          // the done prefix of this partition: commit its last message
          p.done.add(m.offset);
          let last: Raw | undefined;
          while (p.head < p.offsets.length && p.done.has(p.offsets[p.head]!)) {
            const o = p.offsets[p.head++]!;
            p.done.delete(o);
            last = byOffset.get(o);
            byOffset.delete(o);
          }
          if (p.head === p.offsets.length) { p.offsets = []; p.head = 0; }
          if (last !== undefined) {
            toCommit.set(key, last);
            commit();
          }
        };
        const d = decode(codec, kind, m);
        if (!d.ok) {
          deadLetter(kind, m, d.reason).catch(() => undefined).finally(settle);
          return;
        }
        inFlight++;
        if (inFlight >= consumeOptions.maxInFlight) stream.pause();
        handler({ key: keyOf(m), value: d.value, partition: m.partition, offset: String(m.offset) }, { signal: new AbortController().signal, attempt: 1 })
          .catch((e: unknown) => {
            events.next({ type: 'handler.failed', topic, partition: m.partition, offset: String(m.offset), attempt: 1, maxAttempts: 1, reason: reasonOf(e), ts: Date.now() });
          })
          .finally(() => {
            inFlight--;
            settle();
            if (stopped) { if (inFlight === 0) idle?.(); } else if (stream.isPaused() && inFlight < consumeOptions.maxInFlight) stream.resume();
          });
      });
      stream.on('error', (e: Error) => {
        health.set(part, 'down', reasonOf(e));
        events.next({ type: 'consumer.crashed', topic, group: consumeOptions.group, reason: reasonOf(e), restarting: false, ts: Date.now() });
      });
      consumer.on('consumer:group:rebalance', () => {
        events.next({ type: 'rebalance', topic, group: consumeOptions.group, phase: 'started', ts: Date.now() });
      });
      const c: Consumption = {
        get inFlight() { return inFlight; },
        async stop() {
          if (stopped) return;
          stopped = true;
          stream.pause();
          if (inFlight > 0) await new Promise<void>((resolve) => { idle = resolve; });
          while (committing !== undefined) await committing;
          await stream.close().catch(() => undefined);
          await closeConsumer(consumer);
          health.remove(part);
          consumptions.delete(c);
        },
      };
      consumptions.add(c);
      return c;
    },
    read<K extends MessageKind>(kind: K, readOptions: { readonly fromBeginning: boolean }): Observable<Envelope<Messages[K]>> {
      return new Observable<Envelope<Messages[K]>>((subscriber) => {
        const consumer = consumerOf(`${options.prefix}.reader.${randomUUID()}`);
        let closed = false;
        let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
        const start = async (): Promise<void> => {
          await ready();
          if (closed) return;
          stream = await consumer.consume({
            topics: [topics[kind]], autocommit: false,
            mode: readOptions.fromBeginning ? MessagesStreamModes.EARLIEST : MessagesStreamModes.LATEST,
          });
          if (closed) return;
          stream.on('data', (m: Raw) => {
            const d = decode(codec, kind, m);
            if (d.ok && !closed) subscriber.next({ key: keyOf(m), value: d.value, partition: m.partition, offset: String(m.offset) });
          });
          stream.on('error', (e: Error) => {
            if (!closed) subscriber.error(new OrchestratorError('KAFKA_FAILED', `reading ${topics[kind]}: ${reasonOf(e)}`, { retriable: true, cause: e }));
          });
        };
        start().then(
          () => { if (closed) void stop(); },
          (e: unknown) => {
            void stop();
            if (!closed) subscriber.error(new OrchestratorError('KAFKA_FAILED', `reading ${topics[kind]}: ${reasonOf(e)}`, { retriable: true, cause: e }));
          },
        );
        const stop = async (): Promise<void> => {
          await stream?.close().catch(() => undefined);
          await closeConsumer(consumer);
        };
        return () => {
          closed = true;
          void stop();
        };
      });
    },
    async close() {
      await Promise.all([...consumptions].map((c) => c.stop().catch(() => undefined)));
      await producer?.close().catch(() => undefined);
      events.complete();
    },
  };
}
