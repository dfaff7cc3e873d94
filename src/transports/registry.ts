/**
 * The seam between the codec and a schema registry: register a schema under a
 * subject (getting its id), and look a schema up by id. The codec registers its
 * writer schemas ahead of time (its `prepare` step), so encoding stays
 * synchronous; decoding fetches an unknown id once. The HTTP client for a
 * Confluent-compatible registry is `createSchemaRegistryClient` in
 * `llm-orchestrator/kafka`.
 * @module
 */
import type avro from 'avsc';

/**
 * What the codec needs of a schema registry.
 *
 * @example
 * ```ts
 * const id = await registry.register('prod.feedback-value', loadSchema('feedback.v2.avsc'));
 * const schema = await registry.schema(id); // undefined when the registry has no such id
 * ```
 */
export interface SchemaRegistryClient {
  /** Registers `schema` under `subject` (or finds it there) and resolves to its id. Rejects when the registry cannot answer or refuses it. */
  register(subject: string, schema: avro.Schema): Promise<number>;
  /** The schema with this id, `undefined` when the registry has none; rejects when the registry cannot answer. */
  schema(id: number): Promise<avro.Schema | undefined>;
}

/**
 * Whether a value looks like a {@link SchemaRegistryClient}.
 *
 * @example
 * ```ts
 * isSchemaRegistryClient({ register: async () => 1, schema: async () => undefined }); // true
 * ```
 */
export function isSchemaRegistryClient(v: unknown): v is SchemaRegistryClient {
  return typeof (v as SchemaRegistryClient | null)?.register === 'function' && typeof (v as SchemaRegistryClient | null)?.schema === 'function';
}
