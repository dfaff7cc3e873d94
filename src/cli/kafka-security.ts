/**
 * Turning the merged `ssl` and `sasl` Kafka settings into the transport's TLS and SASL options:
 * PEM files (`caFile`, `certFile`, `keyFile`) are read, a PEM given both as text and as file is an
 * issue, and SASL needs its mechanism, username and password. Used by kafka-config.ts.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { Issue } from '../errors.ts';
import type { KafkaTransportOptions } from '../transports/kafka/transport.ts';
import { bad, type KafkaConfig, type KafkaResult } from './kafka-settings.ts';

async function pem(file: string, field: string): Promise<KafkaResult<string>> {
  try {
    return { ok: true, value: await readFile(file, 'utf8') };
  } catch (e) {
    return bad(['ssl', field], `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The transport's `ssl` option from the merged `ssl` setting: booleans and undefined pass through,
 * an object has its PEM files read (the texts under `ca`, `cert`, `key`).
 *
 * @example
 * ```ts
 * const ssl = await resolveSsl({ caFile: '/etc/kafka/ca.pem', servername: 'kafka-1' });
 * if (ssl.ok) ssl.value; // { ca: '-----BEGIN CERTIFICATE-----...', servername: 'kafka-1' }
 * ```
 */
export async function resolveSsl(s: KafkaConfig['ssl']): Promise<KafkaResult<KafkaTransportOptions['ssl']>> {
  if (typeof s !== 'object') return { ok: true, value: s };
  const out: Record<string, unknown> = {};
  for (const [text, file] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
    if (s[text] !== undefined && s[file] !== undefined) return { ok: false, issues: [{ code: 'invalid_value', path: ['ssl', file], message: `give ${text} or ${file}, not both` }] };
    const f = s[file];
    if (f !== undefined) {
      const read = await pem(f, file);
      if (!read.ok) return { ok: false, issues: read.issues };
      out[text] = read.value;
    } else if (s[text] !== undefined) out[text] = s[text];
  }
  if (s.rejectUnauthorized !== undefined) out['rejectUnauthorized'] = s.rejectUnauthorized;
  if (s.servername !== undefined) out['servername'] = s.servername;
  return { ok: true, value: out as KafkaTransportOptions['ssl'] };
}

/**
 * The transport's `sasl` option from the merged `sasl` setting (undefined: none); each missing
 * field is an issue that names its `KAFKA_SASL_*` variable.
 *
 * @example
 * ```ts
 * resolveSasl({ mechanism: 'plain', username: 'llmo' }); // { ok: false, issues: [{ code: 'required', path: ['sasl', 'password'], ... }] }
 * ```
 */
export function resolveSasl(sasl: KafkaConfig['sasl']): KafkaResult<KafkaTransportOptions['sasl']> {
  if (sasl === undefined) return { ok: true, value: undefined };
  const { mechanism, username, password } = sasl;
  const missing = ([['mechanism', mechanism, 'KAFKA_SASL_MECHANISM'], ['username', username, 'KAFKA_SASL_USERNAME'], ['password', password, 'KAFKA_SASL_PASSWORD']] as const)
    .filter(([, v]) => v === undefined)
    .map(([f, , variable]): Issue => ({ code: 'required', path: ['sasl', f], message: `required with sasl (in --kafka-config or ${variable})` }));
  if (missing.length > 0) return { ok: false, issues: missing };
  return { ok: true, value: { mechanism: mechanism!, username: username!, password: password! } };
}
