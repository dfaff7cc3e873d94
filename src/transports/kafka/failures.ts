/**
 * Kafka failures as engine errors: what failed (`code`), whether trying again
 * may help (`retriable`) and the kafkajs error as `cause`. A broker that cannot
 * be reached is `KAFKA_UNREACHABLE` and retriable, even when kafkajs has given up
 * retrying (it then reports a non-retriable KafkaJSNumberOfRetriesExceeded).
 * @module
 */
import { isOrchestratorError, OrchestratorError, retriableOf } from '../../errors.ts';

/** kafkajs errors that mean "no broker answered". */
const UNREACHABLE = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSRequestTimeoutError']);

/**
 * Whether `e` or any error in its cause chain says no broker could be reached.
 *
 * @example
 * ```ts
 * if (isUnreachable(e)) console.error('is the broker running?');
 * ```
 */
export function isUnreachable(e: unknown): boolean {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (UNREACHABLE.has(c.name)) return true;
  }
  return false;
}

/**
 * Wraps a kafkajs failure of `what` (e.g. `reading llmo.run-results`).
 *
 * @example
 * ```ts
 * consumer.connect().catch((e: unknown) => subscriber.error(kafkaFailure(`reading ${topic}`, e)));
 * ```
 */
export function kafkaFailure(what: string, e: unknown): OrchestratorError {
  if (isOrchestratorError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return isUnreachable(e)
    ? new OrchestratorError('KAFKA_UNREACHABLE', `${what}: no Kafka broker reachable (${message})`, { retriable: true, cause: e })
    : new OrchestratorError('KAFKA_FAILED', `${what}: ${message}`, { retriable: retriableOf(e), cause: e });
}
