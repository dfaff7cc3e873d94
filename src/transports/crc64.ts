/**
 * CRC-64-AVRO, the 64-bit Rabin fingerprint of the Avro specification
 * ("Schema Fingerprints"), over a schema's Parsing Canonical Form. It is what
 * Avro single-object encoding puts after its marker, little-endian. avsc
 * offers only md5 and sha256, so this is the spec's algorithm: a 256-entry
 * table computed once when first needed, from the EMPTY constant.
 * @module
 */
import type avro from 'avsc';

/** The spec's EMPTY: the fingerprint of no bytes, and the polynomial. */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

let table: BigUint64Array | undefined;

function fpTable(): BigUint64Array {
  if (table !== undefined) return table;
  const t = new BigUint64Array(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    t[i] = fp & MASK;
  }
  return (table = t);
}

/**
 * The CRC-64-AVRO fingerprint of some bytes (a string is taken as UTF-8), as an unsigned 64-bit BigInt.
 *
 * @example
 * ```ts
 * crc64Avro('"int"'); // 0x7275d51a3f395c8fn
 * ```
 */
export function crc64Avro(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const t = fpTable();
  let fp = EMPTY;
  for (const b of bytes) fp = (fp >> 8n) ^ t[Number((fp ^ BigInt(b)) & 0xffn)]!;
  return fp;
}

/**
 * The Parsing Canonical Form of an avsc type (avsc's `schema()` without attributes is that form).
 *
 * @example
 * ```ts
 * canonicalForm(avro.Type.forSchema({ type: 'fixed', name: 'foo', size: 15, namespace: 'x' })); // '{"name":"x.foo","type":"fixed","size":15}'
 * ```
 */
export function canonicalForm(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

/**
 * The 8-byte little-endian CRC-64-AVRO fingerprint of a type's Parsing Canonical Form,
 * as single-object encoding writes it.
 *
 * @example
 * ```ts
 * rabinFingerprint(avro.Type.forSchema('int')).toString('hex'); // '8f5c393f1ad57572'
 * ```
 */
export function rabinFingerprint(type: avro.Type): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(canonicalForm(type)));
  return out;
}
