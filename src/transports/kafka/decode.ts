/**
 * Turning a kafkajs record into a typed message: headers as strings, the Avro
 * codec, then the kind's own checks (shared by the consumer and the reader).
 * @module
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { checkMessage } from '../checks.ts';
import type { Codec, Decoded } from '../codec.ts';
import type { MessageKind, Messages } from '../messages.ts';

/**
 * Record headers as strings (the first of repeated ones).
 *
 * @example
 * ```ts
 * headersOf(message.headers); // { 'llmo-kind': 'feedback', ... }
 * ```
 */
export function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[0] : v;
    if (one !== undefined) out[k] = Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
  }
  return out;
}

/**
 * A record's key as a string ('' when it has none).
 *
 * @example
 * ```ts
 * const runId = keyOf(message);
 * ```
 */
export function keyOf(m: KafkaMessage): string {
  return m.key?.toString('utf8') ?? '';
}

/**
 * Decodes and checks a record of `kind`; a failure says why (the reason to dead-letter it). A Promise only
 * when a schema-registry record names a schema id not fetched yet; it rejects (retriable) when the registry
 * cannot answer.
 *
 * @example
 * ```ts
 * const d = await decodeRecord(codec, 'feedback', message);
 * if (!d.ok) await deadLetter(d.reason);
 * ```
 */
export function decodeRecord<K extends MessageKind>(codec: Codec, kind: K, m: KafkaMessage): Decoded<Messages[K]> | Promise<Decoded<Messages[K]>> {
  const d = codec.decodeOrFetch(kind, m.value, headersOf(m.headers));
  return d instanceof Promise ? d.then((x) => checked(kind, x)) : checked(kind, d);
}

function checked<K extends MessageKind>(kind: K, d: Decoded<Messages[K]>): Decoded<Messages[K]> {
  if (!d.ok) return d;
  const reason = checkMessage(kind, d.value);
  return reason === undefined ? d : { ok: false, reason };
}
