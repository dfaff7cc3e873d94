/**
 * The fail-fast Kafka connection of the one-shot Kafka commands (`policy`, `signal`, `submit`):
 * settings resolved as the worker's (flags, `--kafka-config`, `KAFKA_*`), bounded
 * connection retries, topics created or checked, and any problem reported as one
 * line with its exit code (69 unreachable, 77 refused, 2 invalid settings). The long-lived
 * ones (`worker`, `evaluate`) probe that way, then open a transport of their own that keeps
 * kafkajs's patient retries ({@link probeKafka}).
 * @module
 */
import type { KafkaTransport, KafkaTransportOptions } from '../transports/kafka/index.ts';
import type { ResolvedKafka } from './kafka-config.ts';
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
export type Connected = {
  readonly ok: true; readonly transport: KafkaTransport; readonly where: string; readonly prefix: string;
  /** The resolved settings (the transport is made from them, with the fail-fast retries). */
  readonly options: KafkaTransportOptions;
} | { readonly ok: false; readonly code: number };

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
  return { ok: true, transport, where, prefix: options.prefix ?? 'llmo', options };
}

/**
 * What a long-lived command connects with: the resolved settings, after a fail-fast probe reached
 * the brokers (topics ready) and was closed; or the exit code of what went wrong (already reported).
 *
 * @example
 * ```ts
 * const p: Probed = await probeKafka(opts, io, 'llmo-worker');
 * ```
 */
export type Probed = { readonly ok: true } & ResolvedKafka | { readonly ok: false; readonly code: number };

/**
 * Probes the brokers as {@link connectKafka} does, then closes the probe: a long-lived command opens
 * its own transport from `options` (with its logger, and kafkajs's patient retries, so a broker
 * restart is waited out instead of failing its consumers within seconds).
 *
 * @example
 * ```ts
 * const p = await probeKafka(opts, io, 'llmo-evaluate');
 * if (!p.ok) return p.code;
 * const opened = openKafka({ ...p.options, logger });
 * ```
 */
export async function probeKafka(flags: KafkaFlags, io: Io, clientId: string, open: (options: KafkaTransportOptions) => OpenedKafka = openKafka): Promise<Probed> {
  const c = await connectKafka(flags, io, clientId, open);
  if (!c.ok) return c;
  await c.transport.close().catch(() => undefined);
  return { ok: true, options: c.options, where: c.where };
}
