/**
 * Kafka failures as engine errors: what failed (`code`), whether trying again
 * may help (`retriable`) and the kafkajs error as `cause`. A broker that cannot
 * be reached is `KAFKA_UNREACHABLE` and retriable, even when kafkajs has given up
 * retrying (it then reports a non-retriable KafkaJSNumberOfRetriesExceeded).
 * Credentials the broker refuses are `KAFKA_AUTH_FAILED` and a TLS handshake that
 * fails (an unknown CA, a certificate for another host) is `KAFKA_TLS_FAILED`:
 * neither is retriable, trying again with the same settings cannot help.
 * @module
 */
import { isOrchestratorError, OrchestratorError, retriableOf } from '../../errors.ts';

/** kafkajs errors that mean "no broker answered". */
const UNREACHABLE = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSRequestTimeoutError']);

/** Broker error types (kafkajs `type`) that mean "these credentials may not do this". */
const REFUSED = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE', 'CLUSTER_AUTHORIZATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED']);

/** Node's codes of a TLS handshake that failed on a certificate or the protocol. */
const TLS_CODE = /^(?:UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_|ERR_SSL_|EPROTO$|HOSTNAME_MISMATCH$)/;

function* chain(e: unknown): Generator<Error & { code?: unknown; type?: unknown }> {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) yield c;
}

/**
 * Whether `e` or an error in its cause chain is the broker refusing the client's SASL credentials
 * or what they may do (authentication or authorization).
 *
 * @example
 * ```ts
 * if (isAuthFailure(e)) console.error('check the sasl mechanism, username and password');
 * ```
 */
export function isAuthFailure(e: unknown): boolean {
  for (const c of chain(e)) {
    if (c.name === 'KafkaJSSASLAuthenticationError' || (typeof c.type === 'string' && REFUSED.has(c.type))) return true;
  }
  return false;
}

/**
 * Whether `e` or an error in its cause chain is a failed TLS handshake (the broker's certificate is
 * not trusted or names another host, or the protocol does not match).
 *
 * @example
 * ```ts
 * if (isTlsFailure(e)) console.error('check ssl.ca and the broker host name');
 * ```
 */
export function isTlsFailure(e: unknown): boolean {
  for (const c of chain(e)) {
    if (typeof c.code === 'string' && TLS_CODE.test(c.code)) return true;
  }
  return false;
}

/**
 * Whether `e` or any error in its cause chain says no broker could be reached (a failed TLS
 * handshake does not count: the broker answered, the settings are wrong).
 *
 * @example
 * ```ts
 * if (isUnreachable(e)) console.error('is the broker running?');
 * ```
 */
export function isUnreachable(e: unknown): boolean {
  if (isTlsFailure(e)) return false;
  for (const c of chain(e)) {
    if (UNREACHABLE.has(c.name)) return true;
  }
  return false;
}

/**
 * What the client had configured, for a hint when a secured broker drops it.
 *
 * @example
 * ```ts
 * kafkaFailure('creating topics', e, { ssl: false, sasl: false });
 * ```
 */
export interface ClientSecurity {
  readonly ssl: boolean;
  readonly sasl: boolean;
}

/** A broker that closes the connection on the first request often wants TLS or SASL the client did not use. */
function closedHint(e: unknown, security: ClientSecurity | undefined): string {
  if (security === undefined || (security.ssl && security.sasl)) return '';
  if (![...chain(e)].some((c) => c.name === 'KafkaJSConnectionClosedError' || /closed connection/i.test(c.message))) return '';
  const missing = [security.ssl ? undefined : '`ssl` (TLS)', security.sasl ? undefined : '`sasl` (credentials)'].filter(Boolean).join(' and ');
  return `; the broker closed the connection: if its listener is secured (SSL, SASL_SSL, SASL_PLAINTEXT), set ${missing}`;
}

/**
 * Wraps a kafkajs failure of `what` (e.g. `reading llmo.run-results`); `security` (what the client
 * uses) adds a hint to a connection a secured broker closed.
 *
 * @example
 * ```ts
 * consumer.connect().catch((e: unknown) => subscriber.error(kafkaFailure(`reading ${topic}`, e)));
 * ```
 */
export function kafkaFailure(what: string, e: unknown, security?: ClientSecurity): OrchestratorError {
  if (isOrchestratorError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (isAuthFailure(e)) {
    return new OrchestratorError('KAFKA_AUTH_FAILED', `${what}: the broker refused the credentials (check the sasl mechanism, username and password, and the user's ACLs): ${message}`, { retriable: false, cause: e });
  }
  if (isTlsFailure(e)) {
    return new OrchestratorError('KAFKA_TLS_FAILED', `${what}: the TLS handshake failed (check ssl.ca and that the broker's certificate names the host): ${message}`, { retriable: false, cause: e });
  }
  return isUnreachable(e)
    ? new OrchestratorError('KAFKA_UNREACHABLE', `${what}: no Kafka broker reachable (${message})${closedHint(e, security)}`, { retriable: true, cause: e })
    : new OrchestratorError('KAFKA_FAILED', `${what}: ${message}`, { retriable: retriableOf(e), cause: e });
}

/**
 * A {@link kafkaFailure} when `e` is about security (refused credentials, a failed TLS handshake, or a
 * connection closed by a broker that may want TLS or SASL the client did not use), else undefined:
 * other failures keep their own shape.
 *
 * @example
 * ```ts
 * ensureTopics(admin, options).catch((e: unknown) => { throw securityFailure('preparing the topics', e, { ssl: false, sasl: false }) ?? e; });
 * ```
 */
export function securityFailure(what: string, e: unknown, security: ClientSecurity): OrchestratorError | undefined {
  if (isOrchestratorError(e)) return undefined;
  return isAuthFailure(e) || isTlsFailure(e) || (isUnreachable(e) && closedHint(e, security) !== '') ? kafkaFailure(what, e, security) : undefined;
}
