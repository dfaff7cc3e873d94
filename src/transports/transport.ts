/**
 * One interface for moving messages between workers, clients and suite modules:
 * the in-memory bus (the embedded default) and Kafka implement it the same way.
 * @module
 */
import type { Observable } from 'rxjs';
import type { Health, TransportEvent } from './health.ts';
import type { ConsumeOptions } from './consume-options.ts';
import type { MessageKind, Messages } from './messages.ts';

/**
 * Topic name per message kind.
 *
 * @example
 * ```ts
 * const topics: TopicNames = topicNames('prod'); // topics.request === 'prod.run-requests'
 * ```
 */
export type TopicNames = Readonly<Record<MessageKind, string>>;

/**
 * Topic names under a common prefix.
 *
 * @example
 * ```ts
 * topicNames('prod'); // { request: 'prod.run-requests', result: 'prod.run-results', token: 'prod.tokens', ... }
 * ```
 */
export function topicNames(prefix = 'llmo'): TopicNames {
  return {
    request: `${prefix}.run-requests`,
    result: `${prefix}.run-results`,
    token: `${prefix}.tokens`,
    event: `${prefix}.events`,
    feedback: `${prefix}.feedback`,
    policy: `${prefix}.policies`,
    audit: `${prefix}.audit`,
    deadLetter: `${prefix}.dead-letter`,
    nodeTask: `${prefix}.node-tasks`,
    nodeResult: `${prefix}.node-results`,
    signal: `${prefix}.signals`,
    evaluation: `${prefix}.evaluations`,
    experience: `${prefix}.experience`,
  };
}

/**
 * A message with its key and, when read from a log, its position.
 *
 * @example
 * ```ts
 * transport.read('result', { fromBeginning: true }).subscribe((m: Envelope<RunResultMessage>) => log(m.key, m.offset));
 * ```
 */
export interface Envelope<T> {
  readonly key: string;
  readonly value: T;
  readonly partition: number;
  readonly offset: string;
  /** The record's headers as strings (e.g. `traceparent`: see `traceContextOf`), when it has any. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A message to send: its key (same key, same partition, in order), value and optional headers.
 * Headers travel as Kafka record headers (the codec's own, such as `llmo-kind`, win over a
 * header of the same name); the W3C `traceparent`/`tracestate` pair is what telemetry sends.
 *
 * @example
 * ```ts
 * const m: OutMessage<RunRequestMessage> = { key: id, value: request, headers: { traceparent } };
 * await transport.send('request', [m]);
 * ```
 */
export interface OutMessage<T> {
  readonly key: string;
  readonly value: T;
  readonly headers?: Readonly<Record<string, string>>;
}

export type { ConsumeOptions } from './consume-options.ts';

/**
 * What a handler gets besides the message: a signal that aborts when its attempt timed out
 * (`handlerTimeoutMs`), and which attempt this is (1-based).
 *
 * @example
 * ```ts
 * const handle: ConsumeHandler<RunRequestMessage> = async (m, { signal, attempt }) => run(m.value, { signal });
 * ```
 */
export interface ConsumeContext {
  readonly signal: AbortSignal;
  readonly attempt: number;
}

/**
 * A consumer's handler: resolves when the message is done; rejects to have it tried again.
 *
 * @example
 * ```ts
 * const handle: ConsumeHandler<FeedbackMessage> = async (m) => { await store(m.value); };
 * ```
 */
export type ConsumeHandler<T> = (message: Envelope<T>, context: ConsumeContext) => Promise<void>;

/**
 * How {@link Transport.read} starts, and the moments it reports.
 *
 * @example
 * ```ts
 * transport.read('policy', { fromBeginning: true, onCaughtUp: () => console.log('current policies applied') });
 * ```
 */
export interface ReadOptions {
  /** From the oldest message, or from the end at subscription time. */
  readonly fromBeginning: boolean;
  /** Called once the reader is positioned: whatever is sent after is delivered. */
  readonly onReady?: () => void;
  /** Called once every message present when the read started has been delivered (at once for an empty topic, or from now). */
  readonly onCaughtUp?: () => void;
}

/**
 * A running consumption.
 *
 * @example
 * ```ts
 * const c: Consumption = await transport.consume('request', options, handle);
 * await c.stop();
 * ```
 */
export interface Consumption {
  /** Stops taking messages; resolves when the handlers in flight ended and offsets are committed. */
  stop(): Promise<void>;
  /** Handlers running now. */
  readonly inFlight: number;
}

/**
 * A message transport.
 *
 * @example
 * ```ts
 * await transport.send('request', [{ key: id, value: request }]);
 * const c = await transport.consume('request', { group: 'workers', maxInFlight: 8 }, async (m) => handle(m.value));
 * ```
 */
export interface Transport {
  readonly kind: 'memory' | 'kafka';
  readonly topics: TopicNames;
  /** Health of the transport's parts (producer, each consumer): red when one is down. */
  readonly health: Health;
  /** Failures and recoveries as data: publishes that failed, consumers that crashed, records dead-lettered. */
  readonly events$: Observable<TransportEvent>;
  /** Publishes messages of one kind, in order (same key, same partition). */
  send<K extends MessageKind>(kind: K, messages: readonly OutMessage<Messages[K]>[]): Promise<void>;
  /**
   * Consumes a kind as a group member with at most `maxInFlight` handlers at once: at-least-once.
   * - A message is done (its offset may be committed) only when its handler resolved, or when it
   *   was written to the dead-letter topic; the committed offset never passes a message that is not done.
   * - A handler that rejects (or outlives `handlerTimeoutMs`) is tried again in place, with a doubling
   *   backoff from `retryBackoffMs`, up to `maxAttempts`; each failure is a `handler.failed` event. After
   *   the last attempt the message is dead-lettered with the reason (`dead-lettered` event). A handler
   *   that rejects with a non-retriable `OrchestratorError` is not tried again: dead-lettered at once.
   * - Messages that cannot be decoded or validated are dead-lettered with the reason, unhandled.
   * - A message delivered to this process more than `maxDeliveries` times (its handling kept killing
   *   the member) is dead-lettered unhandled with reason `redelivered N times`.
   * - When dead-lettering fails, the message stays not done (it comes again), the consumer's health
   *   part `consumer:<topic>:<group>` goes `down` with the reason and a `dead-letter.failed` event says so.
   * - A crashed consumer (Kafka) is `down` (`consumer.crashed`) and restarted with a bounded backoff;
   *   `consumer.restarted` and `up` once it consumes again; it stays `down` when restarting is given up.
   * - A group with no committed offset starts at `offsetReset` (default `earliest`).
   */
  consume<K extends MessageKind>(kind: K, options: ConsumeOptions, handler: ConsumeHandler<Messages[K]>): Promise<Consumption>;
  /**
   * Reads a kind without a group (nothing committed), from the oldest message or from now. `onReady`
   * is called once the reader is positioned: from then on, every message sent is delivered to it.
   * `onCaughtUp` is called once every message that was in the topic when the read started has been
   * delivered (or skipped as undecodable): what a reader of a compacted topic waits for before it
   * acts on the latest value per key.
   */
  read<K extends MessageKind>(kind: K, options: ReadOptions): Observable<Envelope<Messages[K]>>;
  /** Flushes and disconnects. */
  close(): Promise<void>;
}

/**
 * Validates a decoded message beyond its Avro shape; returns a reason to dead-letter it, or undefined.
 *
 * @example
 * ```ts
 * const check: MessageCheck<'feedback'> = (f) => (Number.isFinite(f.score) ? undefined : 'score is not a number');
 * ```
 */
export type MessageCheck<K extends MessageKind> = (value: Messages[K]) => string | undefined;
