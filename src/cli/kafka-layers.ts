/**
 * Reading the two lower layers of Kafka settings: the `KAFKA_*` environment variables and a
 * `--kafka-config <file>` (JSON or YAML). `*File` paths are made absolute here: from the working
 * directory for variables, from the file's folder for a file. kafka-config.ts merges the layers.
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { toIssues } from '../errors.ts';
import { bad, KafkaConfigSchema, type KafkaConfig, type KafkaResult } from './kafka-settings.ts';

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
export function kafkaConfigFromEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): KafkaResult<KafkaConfig> {
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
export async function readKafkaConfigFile(file: string): Promise<KafkaResult<KafkaConfig>> {
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
