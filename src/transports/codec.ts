/**
 * Avro encoding of every message kind (avsc), with schema versioning: each
 * message carries its writer schema's fingerprint in a header, and a reader
 * resolves any older writer schema it knows (kept in `schemas/`) to the current
 * one. Unknown fingerprints and undecodable bytes are reported, not thrown, so a
 * consumer can dead-letter them and go on.
 * @module
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { MessageKind, Messages } from './messages.ts';

/**
 * Header with the writer schema's fingerprint (sha256, hex).
 *
 * @example
 * ```ts
 * const fingerprint = headers[SCHEMA_HEADER];
 * ```
 */
export const SCHEMA_HEADER = 'llmo-schema';
/**
 * Header with the message kind.
 *
 * @example
 * ```ts
 * const kind = headers[KIND_HEADER]; // 'feedback'
 * ```
 */
export const KIND_HEADER = 'llmo-kind';

/**
 * Schema files per kind, oldest first; the last is what this version writes.
 *
 * @example
 * ```ts
 * SCHEMA_FILES.feedback; // ['feedback.v1.avsc', 'feedback.v2.avsc']
 * ```
 */
export const SCHEMA_FILES: Readonly<Record<MessageKind, readonly string[]>> = {
  request: ['run-request.v1.avsc'],
  result: ['run-result.v1.avsc'],
  token: ['token-batch.v1.avsc', 'token-batch.v2.avsc'],
  event: ['lifecycle-event.v1.avsc', 'lifecycle-event.v2.avsc'],
  feedback: ['feedback.v1.avsc', 'feedback.v2.avsc'],
  policy: ['policy-update.v1.avsc'],
  audit: ['audit.v1.avsc', 'audit.v2.avsc'],
  deadLetter: ['dead-letter.v1.avsc', 'dead-letter.v2.avsc'],
  nodeTask: ['node-task.v1.avsc'],
  nodeResult: ['node-result.v1.avsc'],
};

/**
 * An encoded message.
 *
 * @example
 * ```ts
 * const { value, headers }: Encoded = codec.encode('audit', audit);
 * ```
 */
export interface Encoded {
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/**
 * Outcome of decoding.
 *
 * @example
 * ```ts
 * const d: Decoded<FeedbackMessage> = codec.decode('feedback', buf, headers);
 * if (!d.ok) deadLetter(d.reason);
 * ```
 */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

interface KindCodec {
  readonly writer: avro.Type;
  readonly fingerprint: string;
  /** Resolvers from known writer fingerprints (older versions) to the current type. */
  readonly readers: Map<string, avro.Resolver | null>;
  /** Older writer types by fingerprint. */
  readonly writerTypes: Map<string, avro.Type>;
}

/**
 * Loads a schema file from `schemas/`.
 *
 * @example
 * ```ts
 * const schema = loadSchema('feedback.v2.avsc');
 * ```
 */
export function loadSchema(file: string): avro.Schema {
  return JSON.parse(readFileSync(new URL(`./schemas/${file}`, import.meta.url), 'utf8')) as avro.Schema;
}

/**
 * Walks Avro binary data along its writer schema without building values, and
 * says what is wrong, if anything. avsc trusts the item counts of arrays and maps,
 * so a 13-byte message claiming 2^40 entries would spin for hours: here a count
 * larger than the bytes left is refused at once. O(length of the buffer).
 *
 * @example
 * ```ts
 * const why = checkAvro(type, buf);
 * if (why !== undefined) return { ok: false, reason: why };
 * ```
 */
export function checkAvro(type: avro.Type, buf: Buffer): string | undefined {
  let pos = 0;
  const long = (): number => {
    let n = 0;
    let shift = 1;
    for (let k = 0; k < 10; k++) {
      if (pos >= buf.length) throw new Error('truncated buffer');
      const b = buf[pos++]!;
      n += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      shift *= 128;
    }
    throw new Error('invalid varint');
  };
  const skip = (n: number): void => {
    if (n < 0 || pos + n > buf.length) throw new Error('truncated buffer');
    pos += n;
  };
  type Walkable = avro.Type & {
    readonly fields?: readonly { readonly type: avro.Type }[];
    readonly itemsType?: avro.Type; readonly valuesType?: avro.Type; readonly types?: readonly avro.Type[]; readonly size?: number;
  };
  const blocks = (each: () => void): void => {
    for (;;) {
      let count = long();
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        long(); // block size in bytes
      }
      if (count > buf.length - pos) throw new Error(`a block claims ${count} items but only ${buf.length - pos} bytes are left`);
      for (let i = 0; i < count; i++) each();
    }
  };
  const walk = (t: Walkable): void => {
    const name = t.typeName;
    switch (name) {
      case 'null': return;
      case 'boolean': return skip(1);
      case 'int': case 'long': case 'enum': long(); return;
      case 'float': return skip(4);
      case 'double': return skip(8);
      case 'bytes': case 'string': return skip(long());
      case 'fixed': return skip(t.size ?? 0);
      case 'record': case 'error': for (const f of t.fields ?? []) walk(f.type as Walkable); return;
      case 'array': return blocks(() => walk(t.itemsType as Walkable));
      case 'map': return blocks(() => { skip(long()); walk(t.valuesType as Walkable); });
      default: {
        if (name.startsWith('union')) {
          const branch = t.types?.[long()];
          if (branch === undefined) throw new Error('union branch out of range');
          return walk(branch as Walkable);
        }
        return; // logical or unknown types: left to avsc
      }
    }
  };
  try {
    walk(type as Walkable);
    return pos === buf.length ? undefined : 'trailing data';
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Encoder/decoder of all message kinds.
 *
 * @example
 * ```ts
 * const codec = createCodec();
 * const { value, headers } = codec.encode('feedback', msg);
 * const back = codec.decode('feedback', value, headers);
 * ```
 */
export class Codec {
  readonly #kinds = new Map<MessageKind, KindCodec>();

  constructor(files: Readonly<Record<MessageKind, readonly string[]>> = SCHEMA_FILES, load: (file: string) => avro.Schema = loadSchema) {
    for (const [kind, list] of Object.entries(files) as [MessageKind, readonly string[]][]) {
      const types = list.map((f) => avro.Type.forSchema(load(f)));
      const writer = types[types.length - 1]!;
      const fingerprint = writer.fingerprint('sha256').toString('hex');
      const readers = new Map<string, avro.Resolver | null>([[fingerprint, null]]);
      const writerTypes = new Map<string, avro.Type>();
      for (const older of types.slice(0, -1)) {
        const fp = older.fingerprint('sha256').toString('hex');
        readers.set(fp, writer.createResolver(older));
        writerTypes.set(fp, older);
      }
      this.#kinds.set(kind, { writer, fingerprint, readers, writerTypes });
    }
  }

  /** Fingerprint of the schema this codec writes for a kind. */
  fingerprint(kind: MessageKind): string {
    return this.#kind(kind).fingerprint;
  }

  #kind(kind: MessageKind): KindCodec {
    const k = this.#kinds.get(kind);
    if (k === undefined) throw new Error(`no schema for message kind '${kind}'`);
    return k;
  }

  /** Encodes a message with the current schema. Throws for a value that does not fit it (a programming error). */
  encode<K extends MessageKind>(kind: K, value: Messages[K]): Encoded {
    const k = this.#kind(kind);
    return { value: k.writer.toBuffer(value), headers: { [SCHEMA_HEADER]: k.fingerprint, [KIND_HEADER]: kind } };
  }

  /** Decodes a message written with the current or any known older schema of the kind. */
  decode<K extends MessageKind>(kind: K, value: Buffer | null, headers: Readonly<Record<string, string | undefined>>): Decoded<Messages[K]> {
    if (value === null) return { ok: false, reason: 'empty message (no value)' };
    const k = this.#kind(kind);
    const fp = headers[SCHEMA_HEADER];
    if (fp === undefined) return { ok: false, reason: `missing '${SCHEMA_HEADER}' header` };
    const resolver = k.readers.get(fp);
    if (resolver === undefined) return { ok: false, reason: `unknown ${kind} schema fingerprint ${fp}` };
    const writerType = resolver === null ? k.writer : k.writerTypes.get(fp)!;
    const bad = checkAvro(writerType, value);
    if (bad !== undefined) return { ok: false, reason: `cannot decode ${kind}: ${bad}` };
    try {
      const decoded = resolver === null ? k.writer.fromBuffer(value) : k.writer.fromBuffer(value, resolver);
      return { ok: true, value: decoded as Messages[K] };
    } catch (e) {
      return { ok: false, reason: `cannot decode ${kind}: ${(e as Error).message}` };
    }
  }
}

/**
 * Creates a codec with the schemas shipped in the repo.
 *
 * @example
 * ```ts
 * const codec = createCodec();
 * ```
 */
export function createCodec(): Codec {
  return new Codec();
}
