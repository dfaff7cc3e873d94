/**
 * Avro encoding of every message kind (avsc), with schema versioning, in one of
 * three wire formats (see framing.ts): the llmo framing (fingerprint header),
 * Avro single-object encoding, or the Confluent Schema Registry format. A codec
 * writes one format and reads all three, so a topic can be migrated record by
 * record. A reader resolves any older writer schema it knows (kept in
 * `schemas/`, or fetched from the registry by id) to the current one. Unknown
 * schemas and undecodable bytes are reported, not thrown, so a consumer can
 * dead-letter them and go on; a registry that cannot be reached is an error
 * (retriable), never a dead letter.
 * @module
 */
import avro from 'avsc';
import * as z from 'zod';
import { OrchestratorError, toIssues, ValidationError } from '../errors.ts';
import { checkAvro } from './avro-check.ts';
import { AVRO_SCHEMA_TEXTS } from './avro-schemas.ts';
import { rabinFingerprint } from './crc64.ts';
import { frameOf, registryFramed, SCHEMA_HEADER, singleObject, WIRE_FORMATS, type WireFormat } from './framing.ts';
import type { MessageKind, Messages } from './messages.ts';
import { isSchemaRegistryClient, type SchemaRegistryClient } from './registry.ts';
import { RegistryIds, type Version } from './registry-ids.ts';
import type { TopicNames } from './transport.ts';

export { checkAvro } from './avro-check.ts';
export { SCHEMA_HEADER } from './framing.ts';

/**
 * Header with the message kind (every format writes it; no reader needs it).
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
 * SCHEMA_FILES.feedback; // ['feedback.v1.avsc', 'feedback.v2.avsc', 'feedback.v3.avsc']
 * ```
 */
export const SCHEMA_FILES: Readonly<Record<MessageKind, readonly string[]>> = {
  request: ['run-request.v1.avsc', 'run-request.v2.avsc'],
  result: ['run-result.v1.avsc'],
  token: ['token-batch.v1.avsc', 'token-batch.v2.avsc'],
  event: ['lifecycle-event.v1.avsc', 'lifecycle-event.v2.avsc'],
  feedback: ['feedback.v1.avsc', 'feedback.v2.avsc', 'feedback.v3.avsc'],
  policy: ['policy-update.v1.avsc'],
  audit: ['audit.v1.avsc', 'audit.v2.avsc', 'audit.v3.avsc'],
  deadLetter: ['dead-letter.v1.avsc', 'dead-letter.v2.avsc'],
  nodeTask: ['node-task.v1.avsc'],
  nodeResult: ['node-result.v1.avsc'],
  signal: ['signal.v1.avsc'],
  evaluation: ['evaluation-request.v1.avsc'],
  experience: ['experience.v1.avsc'],
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

/**
 * zod schema of {@link CodecOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * CodecOptionsSchema.parse({ wireFormat: 'single-object' });
 * ```
 */
export const CodecOptionsSchema = z.strictObject({
  /** What the codec writes: `llmo` (default, the original framing), `single-object` or `schema-registry`. It reads all three. */
  wireFormat: z.enum(WIRE_FORMATS).optional(),
  /** Schema registry: needed to write `schema-registry`, and to read it (ids are fetched once). */
  registry: z.custom<SchemaRegistryClient>(isSchemaRegistryClient, 'expected a schema registry client (createSchemaRegistryClient({ url }))').optional(),
});

/**
 * Options of {@link createCodec}.
 *
 * @example
 * ```ts
 * const options: CodecOptions = { wireFormat: 'schema-registry', registry: createSchemaRegistryClient({ url }) };
 * ```
 */
export type CodecOptions = Readonly<z.input<typeof CodecOptionsSchema>>;

interface KindCodec {
  readonly writer: avro.Type;
  /** The newest schema file as written (defaults and docs kept: what a registry checks compatibility on). */
  readonly schema: avro.Schema;
  readonly fingerprint: string;
  readonly rabin: Buffer;
  /** Known writer versions by sha256 (llmo framing) and by CRC-64-AVRO (single-object), hex. */
  readonly bySha: Map<string, Version>;
  readonly byRabin: Map<string, Version>;
}

/**
 * A schema file of `schemas/`, parsed (a fresh object per call). The texts are compiled into the
 * package (avro-schemas.ts), so no file is read at run time and bundles carry them; an unknown
 * file name throws an `OrchestratorError` (`SCHEMA_UNKNOWN`) naming it.
 *
 * @example
 * ```ts
 * const schema = loadSchema('feedback.v2.avsc');
 * ```
 */
export function loadSchema(file: string): avro.Schema {
  const text = Object.hasOwn(AVRO_SCHEMA_TEXTS, file) ? AVRO_SCHEMA_TEXTS[file] : undefined;
  if (text === undefined) throw new OrchestratorError('SCHEMA_UNKNOWN', `no Avro schema file '${file}' (known: ${Object.keys(AVRO_SCHEMA_TEXTS).join(', ')})`);
  return JSON.parse(text) as avro.Schema;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Encoder/decoder of all message kinds. Invalid options throw a ValidationError (`OPTIONS_INVALID`) naming the field.
 *
 * @example
 * ```ts
 * const codec = createCodec();
 * const { value, headers } = codec.encode('feedback', msg);
 * const back = codec.decode('feedback', value, headers);
 * ```
 */
export class Codec {
  /** What this codec writes. */
  readonly wireFormat: WireFormat;
  readonly #kinds = new Map<MessageKind, KindCodec>();
  /** Registry ids (written and met), when the codec has a registry. */
  readonly #registry: RegistryIds | undefined;

  constructor(files: Readonly<Record<MessageKind, readonly string[]>> = SCHEMA_FILES, load: (file: string) => avro.Schema = loadSchema, options: CodecOptions = {}) {
    const parsed = CodecOptionsSchema.safeParse(options);
    if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'codec options are invalid', toIssues(parsed.error.issues, ['options']));
    this.wireFormat = options.wireFormat ?? 'llmo';
    this.#registry = options.registry === undefined ? undefined : new RegistryIds(options.registry);
    if (this.wireFormat === 'schema-registry' && this.#registry === undefined) {
      throw new ValidationError('OPTIONS_INVALID', 'codec options are invalid', [
        { code: 'custom', path: ['options', 'registry'], message: "wireFormat 'schema-registry' needs a schema registry" },
      ]);
    }
    for (const [kind, list] of Object.entries(files) as [MessageKind, readonly string[]][]) {
      const schemas = list.map(load);
      const types = schemas.map((s) => avro.Type.forSchema(s));
      const writer = types[types.length - 1]!;
      const fingerprint = writer.fingerprint('sha256').toString('hex');
      const rabin = rabinFingerprint(writer);
      const bySha = new Map<string, Version>();
      const byRabin = new Map<string, Version>();
      for (const t of types) {
        const v: Version = t === writer ? { type: writer, resolver: null } : { type: t, resolver: writer.createResolver(t) };
        bySha.set(t.fingerprint('sha256').toString('hex'), v);
        byRabin.set(rabinFingerprint(t).toString('hex'), v);
      }
      this.#kinds.set(kind, { writer, schema: schemas[schemas.length - 1]!, fingerprint, rabin, bySha, byRabin });
    }
  }

  /** Fingerprint (sha256, hex) of the schema this codec writes for a kind, as the llmo framing's header carries it. */
  fingerprint(kind: MessageKind): string {
    return this.#kind(kind).fingerprint;
  }

  #kind(kind: MessageKind): KindCodec {
    const k = this.#kinds.get(kind);
    if (k === undefined) throw new Error(`no schema for message kind '${kind}'`);
    return k;
  }

  /**
   * Registers the writer schema of every kind under `<topic>-value` (TopicNameStrategy) when the codec writes
   * `schema-registry`, and remembers the ids, so `encode` stays synchronous (a codec that only reads that format
   * registers nothing: it fetches ids as it meets them). Idempotent; a failure is not remembered.
   * Rejects with `SCHEMA_REGISTRY_UNAVAILABLE` (retriable) or `SCHEMA_REGISTRY_REFUSED` (e.g. an incompatible schema).
   */
  async prepare(topics: TopicNames): Promise<void> {
    const registry = this.#registry;
    if (registry === undefined || this.wireFormat !== 'schema-registry') return;
    await Promise.all([...this.#kinds].map(([kind, k]) => registry.register(kind, `${topics[kind]}-value`, k)));
  }

  /** Encodes a message with the current schema in this codec's wire format. Throws for a value that does not fit it (a programming error). */
  encode<K extends MessageKind>(kind: K, value: Messages[K]): Encoded {
    const k = this.#kind(kind);
    switch (this.wireFormat) {
      case 'llmo':
        return { value: k.writer.toBuffer(value), headers: { [SCHEMA_HEADER]: k.fingerprint, [KIND_HEADER]: kind } };
      case 'single-object':
        return { value: singleObject(k.rabin, k.writer.toBuffer(value)), headers: { [KIND_HEADER]: kind } };
      case 'schema-registry': {
        const id = this.#registry?.idOf(kind);
        if (id === undefined) {
          throw new OrchestratorError('SCHEMA_NOT_REGISTERED', `no schema id for ${kind} yet: await codec.prepare(topics) first (the Kafka transport does it when its topics are ready)`);
        }
        return { value: registryFramed(id, k.writer.toBuffer(value)), headers: { [KIND_HEADER]: kind } };
      }
    }
  }

  /**
   * Decodes a message in any of the three framings, written with the current or any known older schema
   * of the kind. A schema-registry id this codec has not seen yet is a reason here: use {@link decodeAsync}.
   */
  decode<K extends MessageKind>(kind: K, value: Buffer | null, headers: Readonly<Record<string, string | undefined>>): Decoded<Messages[K]> {
    if (value === null) return { ok: false, reason: 'empty message (no value)' };
    const k = this.#kind(kind);
    const f = frameOf(value, headers);
    let v: Version | string;
    switch (f.format) {
      case undefined:
        return { ok: false, reason: f.reason };
      case 'llmo':
        v = k.bySha.get(f.fingerprint) ?? `unknown ${kind} schema fingerprint ${f.fingerprint}`;
        break;
      case 'single-object':
        v = k.byRabin.get(f.fingerprint) ?? `unknown ${kind} single-object fingerprint ${f.fingerprint}`;
        break;
      case 'schema-registry':
        v = this.#registry === undefined
          ? `schema-registry record (schema id ${f.id}) but no schema registry is configured`
          : this.#registry.version(kind, k, f.id) ?? `schema id ${f.id} not fetched yet (decodeAsync fetches it)`;
        break;
    }
    if (typeof v === 'string') return { ok: false, reason: v };
    const bad = checkAvro(v.type, f.body);
    if (bad !== undefined) return { ok: false, reason: `cannot decode ${kind}: ${bad}` };
    try {
      return { ok: true, value: (v.resolver === null ? k.writer.fromBuffer(f.body) : k.writer.fromBuffer(f.body, v.resolver)) as Messages[K] };
    } catch (e) {
      return { ok: false, reason: `cannot decode ${kind}: ${message(e)}` };
    }
  }

  /**
   * {@link decode}, after fetching the writer schema of a schema-registry record whose id this codec has not
   * seen (once per id). An id the registry does not have is a reason; a registry that cannot answer rejects
   * with `SCHEMA_REGISTRY_UNAVAILABLE` (retriable): the record is fine, the registry is not.
   */
  async decodeAsync<K extends MessageKind>(kind: K, value: Buffer | null, headers: Readonly<Record<string, string | undefined>>): Promise<Decoded<Messages[K]>> {
    return this.decodeOrFetch(kind, value, headers);
  }

  /**
   * {@link decodeAsync} without a promise when none is needed: a Promise only for a schema-registry record
   * whose schema must be fetched first, so a consumer awaits nothing on the common path.
   */
  decodeOrFetch<K extends MessageKind>(kind: K, value: Buffer | null, headers: Readonly<Record<string, string | undefined>>): Decoded<Messages[K]> | Promise<Decoded<Messages[K]>> {
    if (value !== null && this.#registry !== undefined) {
      const f = frameOf(value, headers);
      const registry = this.#registry;
      if (f.format === 'schema-registry' && !registry.has(f.id)) {
        const id = f.id;
        return registry.fetch(id).then(() => (registry.has(id)
          ? this.decode(kind, value, headers)
          : { ok: false, reason: `unknown schema id ${id}: not in the schema registry` }));
      }
    }
    return this.decode(kind, value, headers);
  }
}

/**
 * Creates a codec with the schemas shipped in the repo. Invalid options throw a ValidationError naming the field.
 *
 * @example
 * ```ts
 * const codec = createCodec(); // writes the llmo framing, reads all three
 * const standard = createCodec({ wireFormat: 'single-object' });
 * ```
 */
export function createCodec(options: CodecOptions = {}): Codec {
  return new Codec(SCHEMA_FILES, loadSchema, options);
}
