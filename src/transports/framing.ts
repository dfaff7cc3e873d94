/**
 * The three framings of an Avro body on the wire, and telling them apart:
 *
 * - `llmo`: the bare body, with the writer schema's sha256 fingerprint in the
 *   `llmo-schema` header (what this package wrote first; other readers need our headers);
 * - `single-object`: Avro single-object encoding (Avro spec 1.11), `C3 01`, the
 *   8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, the body;
 * - `schema-registry`: the Confluent wire format, magic byte `00`, the 4-byte
 *   big-endian schema id of a schema registry, the body (Kafka Connect, ksqlDB, ...).
 *
 * A record with an `llmo-schema` header is llmo whatever its first bytes; otherwise
 * the first byte tells the other two apart.
 * @module
 */

/**
 * Header with the writer schema's fingerprint (sha256, hex), in the llmo framing.
 *
 * @example
 * ```ts
 * const fingerprint = headers[SCHEMA_HEADER];
 * ```
 */
export const SCHEMA_HEADER = 'llmo-schema';

/**
 * The wire formats a codec can write; it reads all of them.
 *
 * @example
 * ```ts
 * const format: WireFormat = 'single-object';
 * ```
 */
export type WireFormat = 'llmo' | 'single-object' | 'schema-registry';

/**
 * All wire formats, the default first.
 *
 * @example
 * ```ts
 * WIRE_FORMATS.includes('schema-registry'); // true
 * ```
 */
export const WIRE_FORMATS = ['llmo', 'single-object', 'schema-registry'] as const satisfies readonly WireFormat[];

/**
 * The two bytes that start an Avro single-object encoded record.
 *
 * @example
 * ```ts
 * value.subarray(0, 2).equals(SINGLE_OBJECT_MARKER);
 * ```
 */
export const SINGLE_OBJECT_MARKER: Buffer = Buffer.from([0xc3, 0x01]);

/**
 * The byte that starts a record in the Confluent Schema Registry wire format.
 *
 * @example
 * ```ts
 * value[0] === REGISTRY_MAGIC;
 * ```
 */
export const REGISTRY_MAGIC = 0x00;

const SO_HEADER = 10;
const SR_HEADER = 5;

/**
 * What a record's framing says: the format, what identifies its writer schema, and the Avro body;
 * or, when it has none of the three, why.
 *
 * @example
 * ```ts
 * const f: Framing = frameOf(value, headers);
 * if (f.format === 'schema-registry') console.log(f.id);
 * ```
 */
export type Framing =
  | { readonly format: 'llmo'; readonly fingerprint: string; readonly body: Buffer }
  | { readonly format: 'single-object'; readonly fingerprint: string; readonly body: Buffer }
  | { readonly format: 'schema-registry'; readonly id: number; readonly body: Buffer }
  | { readonly format: undefined; readonly reason: string };

/**
 * Reads a record's framing (never throws). The single-object fingerprint is the 8 header bytes as hex, in wire order.
 *
 * @example
 * ```ts
 * frameOf(Buffer.from([0, 0, 0, 0, 7, 2, 97]), {}); // { format: 'schema-registry', id: 7, body: <02 61> }
 * ```
 */
export function frameOf(value: Buffer, headers: Readonly<Record<string, string | undefined>>): Framing {
  const fp = headers[SCHEMA_HEADER];
  if (fp !== undefined) return { format: 'llmo', fingerprint: fp, body: value };
  if (value.length >= 2 && value[0] === SINGLE_OBJECT_MARKER[0] && value[1] === SINGLE_OBJECT_MARKER[1]) {
    if (value.length < SO_HEADER) return { format: undefined, reason: `single-object record shorter than its ${SO_HEADER}-byte header` };
    return { format: 'single-object', fingerprint: value.subarray(2, SO_HEADER).toString('hex'), body: value.subarray(SO_HEADER) };
  }
  if (value.length >= 1 && value[0] === REGISTRY_MAGIC) {
    if (value.length < SR_HEADER) return { format: undefined, reason: `schema-registry record shorter than its ${SR_HEADER}-byte header` };
    return { format: 'schema-registry', id: value.readUInt32BE(1), body: value.subarray(SR_HEADER) };
  }
  // neither single-object nor schema-registry framed: an llmo record that lost its header (the reason it always had)
  return { format: undefined, reason: `missing '${SCHEMA_HEADER}' header` };
}

/**
 * Frames a body in single-object encoding.
 *
 * @example
 * ```ts
 * singleObject(rabinFingerprint(type), type.toBuffer(value));
 * ```
 */
export function singleObject(fingerprint: Buffer, body: Buffer): Buffer {
  return Buffer.concat([SINGLE_OBJECT_MARKER, fingerprint, body]);
}

/**
 * Frames a body in the schema registry wire format.
 *
 * @example
 * ```ts
 * registryFramed(42, type.toBuffer(value)); // <00 00 00 00 2a ...>
 * ```
 */
export function registryFramed(id: number, body: Buffer): Buffer {
  const head = Buffer.alloc(SR_HEADER);
  head[0] = REGISTRY_MAGIC;
  head.writeUInt32BE(id, 1);
  return Buffer.concat([head, body]);
}
