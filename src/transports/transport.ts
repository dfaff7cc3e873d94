/**
 * One interface for moving messages between workers, clients and suite modules:
 * the in-memory bus (the embedded default) and Kafka implement it the same way.
 * @module
 */
import type { Observable } from 'rxjs';
import type { Health, TransportEvent } from './health.ts';
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
}

/**
 * How to consume a kind as a group member.
 *
 * @example
 * ```ts
 * const options: ConsumeOptions = { group: 'workers', maxInFlight: 8, fromBeginning: false };
 * ```
 */
export interface ConsumeOptions {
  /** Consumer group: members of one group share the partitions. */
  readonly group: string;
  /** Most handlers running at once across all partitions (backpressure). */
  readonly maxInFlight: number;
  /** Start from the oldest message when the group has no committed offset. Default true. */
  readonly fromBeginning?: boolean;
  /** Where a group without a committed offset starts: `earliest` or `latest`. */
  readonly offsetReset?: 'earliest' | 'latest';
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
  send<K extends MessageKind>(kind: K, messages: readonly { readonly key: string; readonly value: Messages[K] }[]): Promise<void>;
  /**
   * Consumes a kind as a group member with at most `maxInFlight` handlers at once. A message is
   * done (its offset may be committed) only when its handler resolves: at-least-once. Messages
   * that cannot be decoded or validated go to the dead-letter topic with the reason; the consumer goes on.
   */
  consume<K extends MessageKind>(kind: K, options: ConsumeOptions, handler: (message: Envelope<Messages[K]>) => Promise<void>): Promise<Consumption>;
  /** Reads a kind without a group (nothing committed), from the oldest message or from now. */
  read<K extends MessageKind>(kind: K, options: { readonly fromBeginning: boolean }): Observable<Envelope<Messages[K]>>;
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
