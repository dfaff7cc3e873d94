/**
 * Kafka for the `worker` and `submit` commands: a transport with bounded
 * connection retries, and one-line messages for a broker that cannot be reached.
 * Imported only by those commands (it loads kafkajs and avsc).
 * @module
 */
import { serializeError, type Issue } from '../errors.ts';
import { createKafkaTransport, isUnreachable, type KafkaTransport, type KafkaTransportOptions } from '../transports/kafka/index.ts';

/**
 * What {@link openKafka} gives: a transport that can create its topics, or the issues of the options.
 *
 * @example
 * ```ts
 * const k: OpenedKafka = openKafka({ brokers: ['127.0.0.1:9092'] });
 * ```
 */
export type OpenedKafka = { readonly ok: true; readonly transport: KafkaTransport } | { readonly ok: false; readonly issues: readonly Issue[] };

/**
 * How hard the CLI tries to reach a broker before it gives up: 2 retries after the first
 * attempt, 3 s per connection attempt (a refused connection fails in about one second).
 *
 * @example
 * ```ts
 * createKafkaTransport({ brokers, ...FAIL_FAST });
 * ```
 */
export const FAIL_FAST = { retries: 2, connectionTimeoutMs: 3000 } as const satisfies Partial<KafkaTransportOptions>;

/**
 * A Kafka transport, or the issues of its options (e.g. a broker that is not `host:port`);
 * other failures of `createKafkaTransport` are thrown.
 *
 * @example
 * ```ts
 * const k = openKafka({ brokers: ['127.0.0.1:9092'], clientId: 'llmo-submit' });
 * if (!k.ok) return reportIssues(io, '--brokers', k.issues);
 * ```
 */
export function openKafka(options: KafkaTransportOptions): OpenedKafka {
  try {
    return { ok: true, transport: createKafkaTransport(options) };
  } catch (e) {
    const s = serializeError(e);
    if (s.issues === undefined) throw e; // not the options' fault (e.g. the Avro schemas cannot be read)
    // `options.brokers.0` -> `--brokers.0`: the user wrote flags, not options
    const issues = s.issues
      .map((i) => (i.path[0] === 'options' && typeof i.path[1] === 'string' ? { ...i, path: [`--${i.path[1]}`, ...i.path.slice(2)] } : i));
    return { ok: false, issues };
  }
}

/** The innermost message of an error's cause chain, and whether the chain says no broker answered. */
function inspect(e: unknown): { message: string; unreachable: boolean } {
  let message = e instanceof Error ? e.message : String(e);
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (c.message) message = c.message;
  }
  return { message, unreachable: serializeError(e).code === 'KAFKA_UNREACHABLE' || isUnreachable(e) };
}

/**
 * One line for a Kafka failure: `cannot reach Kafka at <brokers>: <reason>` when no broker
 * answered, else `Kafka at <brokers> failed: <reason>`.
 *
 * @example
 * ```ts
 * kafkaProblem('127.0.0.1:9092', e); // "cannot reach Kafka at 127.0.0.1:9092: Connection error: connect ECONNREFUSED 127.0.0.1:9092"
 * ```
 */
export function kafkaProblem(brokers: string, e: unknown): string {
  const { message, unreachable } = inspect(e);
  return unreachable ? `cannot reach Kafka at ${brokers}: ${message}` : `Kafka at ${brokers} failed: ${message}`;
}

/**
 * Connects once (creating the topics if needed); resolves with a {@link kafkaProblem} line
 * when that fails, else undefined.
 *
 * @example
 * ```ts
 * const problem = await reachKafka(transport, '127.0.0.1:9092');
 * if (problem !== undefined) return fail(io, problem);
 * ```
 */
export async function reachKafka(transport: Pick<KafkaTransport, 'ensureTopics'>, brokers: string): Promise<string | undefined> {
  try {
    await transport.ensureTopics();
    return undefined;
  } catch (e) {
    return kafkaProblem(brokers, e);
  }
}
