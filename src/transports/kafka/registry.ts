/**
 * A {@link SchemaRegistryClient} for a Confluent-compatible schema registry
 * (Confluent Schema Registry, Apicurio's `/apis/ccompat/v7`, Redpanda, ...),
 * through `@kafkajs/confluent-schema-registry`, an optional peer dependency: it
 * is imported on first use only, so nothing loads it unless a registry is configured.
 * @module
 */
import type avro from 'avsc';
import * as z from 'zod';
import { OrchestratorError, toIssues, ValidationError } from '../../errors.ts';
import type { SchemaRegistryClient } from '../registry.ts';

/**
 * zod schema of {@link SchemaRegistryOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * SchemaRegistryOptionsSchema.parse({ url: 'http://127.0.0.1:8081' });
 * ```
 */
export const SchemaRegistryOptionsSchema = z.strictObject({
  /** Base URL of the registry's Confluent-compatible API, e.g. `http://registry:8081` or `http://apicurio:8080/apis/ccompat/v7`. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** HTTP basic auth. */
  auth: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
});

/**
 * Options of {@link createSchemaRegistryClient}.
 *
 * @example
 * ```ts
 * const options: SchemaRegistryOptions = { url: 'https://registry.example.com', auth: { username: 'llmo', password: secret } };
 * ```
 */
export type SchemaRegistryOptions = Readonly<z.input<typeof SchemaRegistryOptionsSchema>>;

type ConfluentModule = typeof import('@kafkajs/confluent-schema-registry');
type ConfluentRegistry = InstanceType<ConfluentModule['SchemaRegistry']>;
const statusOf = (e: unknown): number | undefined => {
  const s = (e as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
};

/**
 * Whether the request got no answer at all (refused, reset, DNS): the library's HTTP client (mappersmith)
 * reports that as a status 400 whose body is the socket error's text, so the library's error reads
 * `Error, status 400: connect ECONNREFUSED ...`; a registry's own 4xx always has a JSON `message`, used instead.
 */
const noAnswer = (e: unknown): boolean => statusOf(e) === 400 && e instanceof Error && /Error, status 400: /.test(e.message);

/** A registry failure with `retriable` set: no answer, 5xx and 429 are worth another try; a refusal (4xx) is not. */
function failure(what: string, e: unknown): OrchestratorError {
  const status = noAnswer(e) ? undefined : statusOf(e);
  const refused = e instanceof Error && e.name === 'ConfluentSchemaRegistryCompatibilityError';
  const retriable = !refused && (status === undefined || status >= 500 || status === 429);
  return new OrchestratorError(retriable ? 'SCHEMA_REGISTRY_UNAVAILABLE' : 'SCHEMA_REGISTRY_REFUSED', `${what}: ${e instanceof Error ? e.message : String(e)}`, { retriable, cause: e });
}

/**
 * Creates a client of a Confluent-compatible schema registry. Nothing is loaded or connected until the first
 * call; `@kafkajs/confluent-schema-registry` (^3.9) must then be installed. Schemas are registered as the
 * library does: a subject registered for the first time is set to BACKWARD compatibility.
 * Invalid options throw a ValidationError (`OPTIONS_INVALID`) naming the field.
 *
 * @example
 * ```ts
 * const registry = createSchemaRegistryClient({ url: 'http://127.0.0.1:8081' });
 * const codec = createCodec({ wireFormat: 'schema-registry', registry });
 * ```
 */
export function createSchemaRegistryClient(options: SchemaRegistryOptions): SchemaRegistryClient {
  const parsed = SchemaRegistryOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'schema registry options are invalid', toIssues(parsed.error.issues, ['options']));
  let client: Promise<{ module: ConfluentModule; registry: ConfluentRegistry }> | undefined;
  const connect = () => (client ??= import('@kafkajs/confluent-schema-registry').then(
    (m) => ({
      module: m,
      registry: new m.SchemaRegistry({
        host: options.url.replace(/\/+$/, ''), clientId: 'llmo', retry: { retries: 2 },
        ...(options.auth === undefined ? {} : { auth: { username: options.auth.username, password: options.auth.password } }),
      }),
    }),
    (e: unknown) => {
      client = undefined;
      throw new OrchestratorError('SCHEMA_REGISTRY_CLIENT_MISSING', 'a schema registry is configured but @kafkajs/confluent-schema-registry (^3.9) cannot be loaded: install it', { retriable: false, cause: e });
    },
  ));
  return {
    async register(subject, schema) {
      const { module: m, registry } = await connect();
      const confluent = { type: m.SchemaType.AVRO, schema: JSON.stringify(schema) } as const;
      try {
        return await registry.getRegistryIdBySchema(subject, confluent); // already there: no write, no config change
      } catch (e) {
        // the library turns the registry's 404 (no such subject or schema) into its base error class, without status
        const notThere = statusOf(e) === 404 || (e instanceof Error && e.name === 'ConfluentSchemaRegistryError');
        if (!notThere) throw failure(`looking up a schema under ${subject}`, e);
      }
      try {
        return (await registry.register(confluent, { subject })).id;
      } catch (e) {
        throw failure(`registering a schema under ${subject}`, e);
      }
    },
    async schema(id) {
      const { registry } = await connect();
      try {
        const found = (await registry.getSchema(id)) as unknown as avro.Type;
        return found.schema({ exportAttrs: true });
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw failure(`fetching schema id ${id}`, e);
      }
    },
  };
}
