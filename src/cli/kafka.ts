/**
 * Kafka for the `worker` and `submit` commands: a transport with bounded
 * connection retries, and one-line messages (with their exit code) for a broker
 * that cannot be reached, refuses the credentials, or has topics that do not fit.
 * Imported only by those commands (it loads kafkajs and avsc).
 * @module
 */
import { serializeError, type Issue } from '../errors.ts';
import { createKafkaTransport, isAuthFailure, isTlsFailure, isUnreachable, type KafkaTransport, type KafkaTransportOptions } from '../transports/kafka/index.ts';
import { EXIT } from './exit.ts';

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
 * A Kafka transport, or the issues of its options (e.g. a broker that is not `host:port`), each
 * named by its setting (`brokers.0`, `sasl.mechanism`); other failures of `createKafkaTransport` are thrown.
 *
 * @example
 * ```ts
 * const k = openKafka({ brokers: ['127.0.0.1:9092'], clientId: 'llmo-submit' });
 * if (!k.ok) return reportIssues(io, 'the Kafka settings', k.issues);
 * ```
 */
export function openKafka(options: KafkaTransportOptions): OpenedKafka {
  try {
    return { ok: true, transport: createKafkaTransport(options) };
  } catch (e) {
    const s = serializeError(e);
    if (s.issues === undefined) throw e; // not the options' fault (e.g. the Avro schemas cannot be read)
    // `options.brokers.0` -> `brokers.0`: a flag, a --kafka-config field or a KAFKA_* variable set it
    const issues = s.issues.map((i) => (i.path[0] === 'options' ? { ...i, path: i.path.slice(1) } : i));
    return { ok: false, issues };
  }
}

/** The innermost message of an error's cause chain (the engine's own message when it has a code of its own). */
function messageOf(e: unknown): string {
  const code = serializeError(e).code;
  if (code === 'KAFKA_AUTH_FAILED' || code === 'KAFKA_TLS_FAILED' || code === 'TOPIC_MISMATCH' || (e instanceof Error && e.message.includes('closed the connection'))) {
    return (e as Error).message;
  }
  let message = e instanceof Error ? e.message : String(e);
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (c.message) message = c.message;
  }
  return message;
}

/**
 * A Kafka failure as one line and an exit code: {@link EXIT}.unavailable (69) when no broker answered
 * (`cannot reach Kafka at <brokers>: <reason>`) or Kafka failed otherwise, {@link EXIT}.denied (77) for refused
 * credentials or a failed TLS handshake, {@link EXIT}.invalid (2) for existing topics that do not fit the settings.
 *
 * @example
 * ```ts
 * kafkaProblem('127.0.0.1:9092', e); // { code: 69, message: "cannot reach Kafka at 127.0.0.1:9092: Connection error: connect ECONNREFUSED 127.0.0.1:9092" }
 * ```
 */
export function kafkaProblem(brokers: string, e: unknown): { readonly message: string; readonly code: number } {
  const code = serializeError(e).code;
  const message = messageOf(e);
  if (code === 'KAFKA_AUTH_FAILED' || code === 'KAFKA_TLS_FAILED' || isAuthFailure(e) || isTlsFailure(e)) return { code: EXIT.denied, message: `Kafka at ${brokers} refused us: ${message}` };
  if (code === 'TOPIC_MISMATCH') return { code: EXIT.invalid, message: `Kafka at ${brokers}: ${message}` };
  if (code === 'KAFKA_UNREACHABLE' || isUnreachable(e)) return { code: EXIT.unavailable, message: `cannot reach Kafka at ${brokers}: ${message}` };
  return { code: EXIT.unavailable, message: `Kafka at ${brokers} failed: ${message}` };
}

/**
 * Connects once (creating the topics if needed, checking existing ones); resolves with a
 * {@link kafkaProblem} when that fails, else undefined.
 *
 * @example
 * ```ts
 * const problem = await reachKafka(transport, '127.0.0.1:9092');
 * if (problem !== undefined) return fail(io, problem.message, problem.code);
 * ```
 */
export async function reachKafka(transport: Pick<KafkaTransport, 'ensureTopics'>, brokers: string): Promise<{ readonly message: string; readonly code: number } | undefined> {
  try {
    await transport.ensureTopics();
    return undefined;
  } catch (e) {
    return kafkaProblem(brokers, e);
  }
}
