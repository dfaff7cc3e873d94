/**
 * Where `llmo worker` and `llmo submit` get their Kafka settings, and the one
 * function both use to turn them into transport options, so they connect and
 * create topics identically. Three layers, the first that sets a field wins:
 * flags, then the `--kafka-config <file>` (JSON or YAML), then `KAFKA_*`
 * environment variables. `ssl` and `sasl` merge field by field (a file can name the
 * user and `KAFKA_SASL_PASSWORD` give the password). PEM files (`caFile`,
 * `certFile`, `keyFile`) are read here; paths in a file are relative to the file.
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import type { KafkaTransportOptions } from '../transports/kafka/transport.ts';

const int = (min: number) => z.number().int().gte(min);

/**
 * zod schema of a `--kafka-config` file (every field optional; the layers are merged, then checked).
 *
 * @example
 * ```ts
 * KafkaConfigSchema.parse({ brokers: ['kafka-1:9093'], ssl: { caFile: 'ca.pem' }, sasl: { mechanism: 'scram-sha-512', username: 'llmo' } });
 * ```
 */
export const KafkaConfigSchema = z.strictObject({
  /** `host:port` list, or one comma-separated string. */
  brokers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clientId: z.string().min(1).optional(),
  prefix: z.string().min(1).optional(),
  /** `true`, or PEM texts (`ca`, `cert`, `key`) or files (`caFile`, `certFile`, `keyFile`) and checks. */
  ssl: z.union([z.boolean(), z.strictObject({
    ca: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().optional(),
    servername: z.string().min(1).optional(),
  })]).optional(),
  sasl: z.strictObject({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
  }).optional(),
  partitions: int(1).optional(),
  replicationFactor: int(1).optional(),
  retentionMs: int(-1).optional(),
  minInsyncReplicas: int(1).optional(),
  sessionTimeoutMs: int(1).optional(),
  connectionTimeoutMs: int(1).optional(),
});

/**
 * One layer of Kafka settings (a file, the environment, or the flags).
 *
 * @example
 * ```ts
 * const layer: KafkaConfig = { brokers: '127.0.0.1:9092', sasl: { password: 'secret' } };
 * ```
 */
export type KafkaConfig = z.output<typeof KafkaConfigSchema>;

/** The environment variables and the field each sets. */
const ENV: readonly (readonly [string, string])[] = [
  ['KAFKA_BROKERS', 'brokers'], ['KAFKA_CLIENT_ID', 'clientId'],
  ['KAFKA_SSL', 'ssl'], ['KAFKA_SSL_CA_FILE', 'ssl.caFile'], ['KAFKA_SSL_CERT_FILE', 'ssl.certFile'], ['KAFKA_SSL_KEY_FILE', 'ssl.keyFile'],
  ['KAFKA_SSL_REJECT_UNAUTHORIZED', 'ssl.rejectUnauthorized'], ['KAFKA_SSL_SERVERNAME', 'ssl.servername'],
  ['KAFKA_SASL_MECHANISM', 'sasl.mechanism'], ['KAFKA_SASL_USERNAME', 'sasl.username'], ['KAFKA_SASL_PASSWORD', 'sasl.password'],
];

/**
 * The `KAFKA_*` variables the CLI reads, for `--help`.
 *
 * @example
 * ```ts
 * KAFKA_ENV_VARIABLES.includes('KAFKA_SASL_PASSWORD'); // true
 * ```
 */
export const KAFKA_ENV_VARIABLES: readonly string[] = ENV.map(([name]) => name);

type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };
const bad = (path: readonly (string | number)[], message: string, code = 'invalid_value'): Result<never> => ({ ok: false, issues: [{ code, path, message }] });

function booleanOf(v: string): boolean | undefined {
  return /^(?:1|true|yes|on)$/i.test(v) ? true : /^(?:0|false|no|off)$/i.test(v) ? false : undefined;
}

/**
 * The layer of the `KAFKA_*` environment variables; a bad value is an issue named by its variable.
 *
 * @example
 * ```ts
 * kafkaConfigFromEnv({ KAFKA_BROKERS: 'k:9093', KAFKA_SSL: 'true' }); // { ok: true, value: { brokers: 'k:9093', ssl: {} } }
 * ```
 */
export function kafkaConfigFromEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): Result<KafkaConfig> {
  const out: Record<string, unknown> = {};
  const ssl: Record<string, unknown> = {};
  const sasl: Record<string, unknown> = {};
  for (const [name, field] of ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const [top, sub] = field.split('.') as [string, string | undefined];
    if (field === 'ssl' || field === 'ssl.rejectUnauthorized') {
      const b = booleanOf(raw);
      if (b === undefined) return bad([name], `expected true or false, not '${raw}'`);
      if (field === 'ssl') out['ssl'] = b;
      else ssl['rejectUnauthorized'] = b;
    } else if (sub === undefined) out[top] = raw;
    else (top === 'ssl' ? ssl : sasl)[sub] = sub.endsWith('File') ? path.resolve(cwd, raw) : raw;
  }
  if (Object.keys(ssl).length > 0 && out['ssl'] !== false) out['ssl'] = ssl;
  if (Object.keys(sasl).length > 0) out['sasl'] = sasl;
  const parsed = KafkaConfigSchema.safeParse(out);
  if (parsed.success) return { ok: true, value: parsed.data };
  const byField = new Map(ENV.map(([name, field]) => [field, name]));
  return { ok: false, issues: toIssues(parsed.error.issues).map((i) => ({ ...i, path: [byField.get(i.path.join('.')) ?? i.path.join('.')] })) };
}

/**
 * Reads a `--kafka-config` file (JSON or YAML); issues name the file's bad fields.
 *
 * @example
 * ```ts
 * const file = await readKafkaConfigFile('kafka.yaml');
 * if (!file.ok) return reportIssues(io, '--kafka-config kafka.yaml', file.issues);
 * ```
 */
export async function readKafkaConfigFile(file: string): Promise<Result<KafkaConfig>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return bad([], `cannot read --kafka-config ${file}: ${(e as Error).message}`, 'unreadable');
  }
  let data: unknown;
  try {
    const { parse } = await import('yaml'); // YAML 1.2 reads JSON too
    data = parse(text);
  } catch (e) {
    return bad([], `--kafka-config ${file} is not JSON or YAML: ${(e as Error).message}`, 'not_parsable');
  }
  const parsed = KafkaConfigSchema.safeParse(data ?? {});
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error.issues) };
  const dir = path.dirname(path.resolve(file));
  const ssl = parsed.data.ssl;
  if (typeof ssl === 'object') {
    const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(dir, p));
    const files = { caFile: abs(ssl.caFile), certFile: abs(ssl.certFile), keyFile: abs(ssl.keyFile) };
    return { ok: true, value: { ...parsed.data, ssl: { ...ssl, ...Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)) } } };
  }
  return { ok: true, value: parsed.data };
}

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

async function pem(file: string, field: string): Promise<Result<string>> {
  try {
    return { ok: true, value: await readFile(file, 'utf8') };
  } catch (e) {
    return bad(['ssl', field], `cannot read ${file}: ${(e as Error).message}`);
  }
}

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

  let ssl: KafkaTransportOptions['ssl'];
  const s = merged.ssl;
  if (typeof s === 'object') {
    const out: Record<string, unknown> = {};
    for (const [text, file] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
      if (s[text] !== undefined && s[file] !== undefined) return { ok: false, what, issues: [{ code: 'invalid_value', path: ['ssl', file], message: `give ${text} or ${file}, not both` }] };
      const f = s[file];
      if (f !== undefined) {
        const read = await pem(f, file);
        if (!read.ok) return { ok: false, what, issues: read.issues };
        out[text] = read.value;
      } else if (s[text] !== undefined) out[text] = s[text];
    }
    if (s.rejectUnauthorized !== undefined) out['rejectUnauthorized'] = s.rejectUnauthorized;
    if (s.servername !== undefined) out['servername'] = s.servername;
    ssl = out as KafkaTransportOptions['ssl'];
  } else ssl = s;

  let sasl: KafkaTransportOptions['sasl'];
  if (merged.sasl !== undefined) {
    const { mechanism, username, password } = merged.sasl;
    const missing = ([['mechanism', mechanism, 'KAFKA_SASL_MECHANISM'], ['username', username, 'KAFKA_SASL_USERNAME'], ['password', password, 'KAFKA_SASL_PASSWORD']] as const)
      .filter(([, v]) => v === undefined)
      .map(([f, , variable]): Issue => ({ code: 'required', path: ['sasl', f], message: `required with sasl (in --kafka-config or ${variable})` }));
    if (missing.length > 0) return { ok: false, what, issues: missing };
    sasl = { mechanism: mechanism!, username: username!, password: password! };
  }
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
