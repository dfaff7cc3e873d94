/**
 * The fail-fast Kafka connection of the one-shot Kafka commands (`policy`, `evaluate`):
 * settings resolved as the worker's (flags, `--kafka-config`, `KAFKA_*`), bounded
 * connection retries, topics created or checked, and any problem reported as one
 * line with its exit code (69 unreachable, 77 refused, 2 invalid settings).
 * @module
 */
import type { KafkaTransport, KafkaTransportOptions } from '../transports/kafka/index.ts';
import { fail, reportIssues, type Io } from './io.ts';
import { byFlag, resolveKafka, type KafkaFlags } from './kafka-config.ts';
import { FAIL_FAST, openKafka, reachKafka, type OpenedKafka } from './kafka.ts';

/**
 * A connected transport and where it points, or the exit code of what went wrong (already reported).
 *
 * @example
 * ```ts
 * const c: Connected = await connectKafka(opts, io, 'llmo-policy');
 * if (!c.ok) return c.code;
 * ```
 */
export type Connected = { readonly ok: true; readonly transport: KafkaTransport; readonly where: string; readonly prefix: string } | { readonly ok: false; readonly code: number };

/**
 * Resolves the Kafka settings, opens a fail-fast transport and reaches the brokers (topics ready).
 * `open` makes the transport (default Kafka; tests pass an in-memory one).
 *
 * @example
 * ```ts
 * const c = await connectKafka({ brokers: '127.0.0.1:9092' }, io, 'llmo-evaluate');
 * ```
 */
export async function connectKafka(flags: KafkaFlags, io: Io, clientId: string, open: (options: KafkaTransportOptions) => OpenedKafka = openKafka): Promise<Connected> {
  const resolved = await resolveKafka(flags, io.env ?? process.env, { clientId });
  if (!resolved.ok) return { ok: false, code: reportIssues(io, resolved.what, byFlag(resolved.issues, flags)) };
  const { options, where } = resolved.value;
  const opened = open({ ...options, retries: FAIL_FAST.retries, connectionTimeoutMs: options.connectionTimeoutMs ?? FAIL_FAST.connectionTimeoutMs });
  if (!opened.ok) return { ok: false, code: reportIssues(io, 'the Kafka settings (flags, --kafka-config, KAFKA_* variables)', byFlag(opened.issues, flags)) };
  const transport = opened.transport;
  const warnings = transport.events$.subscribe((e) => { if (e.type === 'topic.mismatch') io.err.write(`llmo: warning: ${e.message}\n`); });
  const problem = await reachKafka(transport, where);
  warnings.unsubscribe();
  if (problem !== undefined) {
    await transport.close().catch(() => undefined);
    return { ok: false, code: fail(io, problem.message, problem.code) };
  }
  return { ok: true, transport, where, prefix: options.prefix ?? 'llmo' };
}
