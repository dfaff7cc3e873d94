/**
 * The shape of one layer of Kafka settings (a `--kafka-config` file, the `KAFKA_*` environment, or the
 * flags) as a zod schema and its type, and the result type the layer readers return: the settings, or
 * the issues that name what is wrong. Parsed and merged by kafka-config.ts.
 * @module
 */
import * as z from 'zod';
import type { Issue } from '../errors.ts';

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

/**
 * What reading a layer (or a part of the settings) gives: the value, or the issues found.
 *
 * @example
 * ```ts
 * const r: KafkaResult<KafkaConfig> = kafkaConfigFromEnv(process.env);
 * if (!r.ok) return reportIssues(io, 'the KAFKA_* environment', r.issues);
 * ```
 */
export type KafkaResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };

/**
 * A failed result of one issue at `path` (code `invalid_value` unless told).
 *
 * @example
 * ```ts
 * return bad(['KAFKA_SSL'], "expected true or false, not 'maybe'"); // { ok: false, issues: [{ code: 'invalid_value', ... }] }
 * ```
 */
export const bad = (path: readonly (string | number)[], message: string, code = 'invalid_value'): KafkaResult<never> => ({ ok: false, issues: [{ code, path, message }] });
