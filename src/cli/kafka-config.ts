/**
 * Where `llmo worker` and `llmo submit` get their Kafka settings, and the one
 * function both use to turn them into transport options, so they connect and
 * create topics identically. Three layers, the first that sets a field wins:
 * flags, then the `--kafka-config <file>` (JSON or YAML), then `KAFKA_*`
 * environment variables. `ssl` and `sasl` merge field by field (a file can name the
 * user and `KAFKA_SASL_PASSWORD` give the password). The layers are read in
 * kafka-layers.ts (shape in kafka-settings.ts); PEM files and SASL are resolved in kafka-security.ts.
 * @module
 */
import type { Issue } from '../errors.ts';
import type { KafkaTransportOptions } from '../transports/kafka/transport.ts';
import { kafkaConfigFromEnv, readKafkaConfigFile } from './kafka-layers.ts';
import { resolveSasl, resolveSsl } from './kafka-security.ts';
import type { KafkaConfig } from './kafka-settings.ts';

export { KafkaConfigSchema, type KafkaConfig } from './kafka-settings.ts';
export { KAFKA_ENV_VARIABLES, kafkaConfigFromEnv, readKafkaConfigFile } from './kafka-layers.ts';

/** `upper` over `lower`; ssl and sasl objects field by field (`ssl: false` above turns TLS off, `true` keeps the settings below). */
function over(lower: KafkaConfig, upper: KafkaConfig): KafkaConfig {
  const out: Record<string, unknown> = { ...lower };
  for (const [k, v] of Object.entries(upper)) {
    if (v === undefined) continue;
    const below = out[k];
    if (k === 'sasl' && typeof below === 'object') out[k] = { ...below, ...(v as object) };
    else if (k === 'ssl' && typeof below === 'object' && below !== null) out[k] = v === true ? below : v === false ? false : { ...below, ...(v as object) };
    else out[k] = v;
  }
  return out as KafkaConfig;
}

/**
 * Kafka settings of the `worker` and `submit` flags (undefined: not given).
 *
 * @example
 * ```ts
 * const flags: KafkaFlags = { brokers: '127.0.0.1:9092', kafkaConfig: 'kafka.yaml', partitions: 12 };
 * ```
 */
export interface KafkaFlags {
  readonly brokers?: string | undefined;
  readonly kafkaConfig?: string | undefined;
  readonly clientId?: string | undefined;
  readonly prefix?: string | undefined;
  readonly partitions?: number | undefined;
  readonly replicationFactor?: number | undefined;
  readonly retentionMs?: number | undefined;
  readonly minInsyncReplicas?: number | undefined;
  readonly sessionTimeoutMs?: number | undefined;
}

/**
 * Transport options resolved from the flags, file and environment (no logger yet), and the broker list as one string.
 *
 * @example
 * ```ts
 * const k: ResolvedKafka = { options: { brokers: ['k:9092'], prefix: 'llmo' }, where: 'k:9092' };
 * ```
 */
export interface ResolvedKafka {
  readonly options: KafkaTransportOptions;
  readonly where: string;
}

/**
 * Issues of a resolution, and what to name as their source.
 *
 * @example
 * ```ts
 * if (!r.ok) return reportIssues(io, r.what, r.issues);
 * ```
 */
export type KafkaResolution = { readonly ok: true; readonly value: ResolvedKafka } | { readonly ok: false; readonly what: string; readonly issues: readonly Issue[] };

/**
 * The one way `worker` and `submit` get their Kafka transport options: flags over `--kafka-config`
 * over `KAFKA_*`; `defaults` (e.g. the client id) under all three. PEM files are read.
 *
 * @example
 * ```ts
 * const r = await resolveKafka({ brokers: '127.0.0.1:9092' }, process.env, { clientId: 'llmo-worker' });
 * if (r.ok) createKafkaTransport({ ...r.value.options, logger });
 * ```
 */
export async function resolveKafka(flags: KafkaFlags, env: NodeJS.ProcessEnv, defaults: KafkaConfig = {}): Promise<KafkaResolution> {
  const fromEnv = kafkaConfigFromEnv(env);
  if (!fromEnv.ok) return { ok: false, what: 'the KAFKA_* environment', issues: fromEnv.issues };
  let merged = over(defaults, fromEnv.value);
  if (flags.kafkaConfig !== undefined) {
    const file = await readKafkaConfigFile(flags.kafkaConfig);
    if (!file.ok) return { ok: false, what: `--kafka-config ${flags.kafkaConfig}`, issues: file.issues };
    merged = over(merged, file.value);
  }
  const { kafkaConfig: _file, ...rest } = flags;
  merged = over(merged, rest as KafkaConfig);
  const what = 'the Kafka settings (flags, --kafka-config, KAFKA_* variables)';
  const brokerList = merged.brokers === undefined ? [] : (typeof merged.brokers === 'string' ? merged.brokers.split(',') : merged.brokers).map((b) => b.trim()).filter(Boolean);
  if (brokerList.length === 0) return { ok: false, what, issues: [{ code: 'required', path: [], message: 'no Kafka brokers: pass --brokers, `brokers` in --kafka-config, or KAFKA_BROKERS' }] };

  const tls = await resolveSsl(merged.ssl);
  if (!tls.ok) return { ok: false, what, issues: tls.issues };
  const ssl = tls.value;
  const auth = resolveSasl(merged.sasl);
  if (!auth.ok) return { ok: false, what, issues: auth.issues };
  const sasl = auth.value;
  const options: KafkaTransportOptions = {
    brokers: brokerList,
    prefix: merged.prefix ?? 'llmo',
    partitions: merged.partitions ?? 6,
    ...(merged.clientId === undefined ? {} : { clientId: merged.clientId }),
    ...(merged.replicationFactor === undefined ? {} : { replicationFactor: merged.replicationFactor }),
    ...(merged.retentionMs === undefined ? {} : { retentionMs: merged.retentionMs }),
    ...(merged.minInsyncReplicas === undefined ? {} : { minInsyncReplicas: merged.minInsyncReplicas }),
    ...(merged.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: merged.sessionTimeoutMs }),
    ...(merged.connectionTimeoutMs === undefined ? {} : { connectionTimeoutMs: merged.connectionTimeoutMs }),
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
  };
  return { ok: true, value: { options, where: brokerList.join(',') } };
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Names issues of transport options by the flag that set the field when a flag did (`brokers.0` -> `--brokers.0`).
 *
 * @example
 * ```ts
 * byFlag([{ code: 'invalid_format', path: ['brokers', 0], message: 'expected host:port' }], { brokers: 'nohost' }); // path ['--brokers', 0]
 * ```
 */
export function byFlag(issues: readonly Issue[], flags: KafkaFlags): Issue[] {
  return issues.map((i) => {
    const head = i.path[0];
    return typeof head === 'string' && (flags as Record<string, unknown>)[head] !== undefined ? { ...i, path: [`--${kebab(head)}`, ...i.path.slice(1)] } : i;
  });
}
