/**
 * Connecting to a secured cluster: TLS (`ssl`) and SASL (`sasl`: PLAIN,
 * SCRAM-SHA-256, SCRAM-SHA-512) options, checked by zod and handed to kafkajs;
 * and the one way options are shown in logs, with the secrets redacted.
 * @module
 */
import type { KafkaConfig } from 'kafkajs';
import * as z from 'zod';

const pem = (what: string): z.ZodString =>
  z.string().regex(/-----BEGIN [A-Z0-9 ]+-----/, `expected the PEM text of ${what} (-----BEGIN ...), not a file name; the CLI reads files (caFile, certFile, keyFile)`);

/**
 * zod schema of the `ssl` option: `true` (TLS, the system's CAs) or the PEM texts and checks.
 *
 * @example
 * ```ts
 * KafkaSslSchema.parse({ ca: readFileSync('ca.pem', 'utf8') });
 * ```
 */
export const KafkaSslSchema = z.union([
  z.boolean(),
  z.strictObject({
    /** CA certificate(s) that signed the broker's certificate, PEM. Default: the system's CAs. */
    ca: pem('a CA certificate').optional(),
    /** Client certificate (mutual TLS), PEM; needs `key`. */
    cert: pem('a certificate').optional(),
    /** Private key of `cert`, PEM. */
    key: pem('a private key').optional(),
    /** Refuse a broker whose certificate is not trusted. Default true; false only for a throwaway test broker. */
    rejectUnauthorized: z.boolean().optional(),
    /** Host name to expect in the broker's certificate (SNI) when it differs from the bootstrap host. */
    servername: z.string().min(1).optional(),
  }).refine((s) => (s.cert === undefined) === (s.key === undefined), { message: 'cert and key go together (mutual TLS)', path: ['key'] }),
]);

/**
 * zod schema of the `sasl` option.
 *
 * @example
 * ```ts
 * KafkaSaslSchema.parse({ mechanism: 'scram-sha-512', username: 'llmo', password: 'secret' });
 * ```
 */
export const KafkaSaslSchema = z.strictObject({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: z.string().min(1),
  password: z.string().min(1),
});

/**
 * The `ssl` and `sasl` options as parsed.
 *
 * @example
 * ```ts
 * const s: KafkaSecurity = { ssl: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } };
 * ```
 */
export interface KafkaSecurity {
  readonly ssl?: z.output<typeof KafkaSslSchema> | undefined;
  readonly sasl?: z.output<typeof KafkaSaslSchema> | undefined;
}

/**
 * The kafkajs settings of {@link KafkaSecurity} (nothing for a plaintext cluster).
 *
 * @example
 * ```ts
 * new Kafka({ clientId: 'llmo', brokers, ...kafkajsSecurity({ ssl: true }) });
 * ```
 */
export function kafkajsSecurity(s: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (s.ssl !== undefined && s.ssl !== false) {
    out.ssl = s.ssl === true ? true : Object.fromEntries(Object.entries(s.ssl).filter(([, v]) => v !== undefined));
  }
  if (s.sasl !== undefined) out.sasl = { mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password } as NonNullable<KafkaConfig['sasl']>;
  return out;
}

/** What replaces a secret in a log. */
export const REDACTED = '[redacted]';

/**
 * A copy of Kafka options fit for a log: the SASL password and the TLS private key redacted,
 * certificates shortened, functions (logger, codec) left out.
 *
 * @example
 * ```ts
 * log.info({ kafka: redactKafkaOptions(options) }, 'connecting'); // sasl.password: '[redacted]'
 * ```
 */
export function redactKafkaOptions<T extends object>(options: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === 'logger' || k === 'codec' || typeof v === 'function') continue;
    if (k === 'sasl' && typeof v === 'object' && v !== null) out[k] = { ...v, password: REDACTED };
    else if (k === 'ssl' && typeof v === 'object' && v !== null) {
      const s = { ...(v as Record<string, unknown>) };
      if (s['key'] !== undefined) s['key'] = REDACTED;
      for (const c of ['ca', 'cert'] as const) if (typeof s[c] === 'string') s[c] = `<PEM, ${(s[c] as string).length} chars>`;
      out[k] = s;
    } else out[k] = v;
  }
  return out;
}
