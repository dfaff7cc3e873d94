/**
 * What a codec knows of a schema registry's ids: the ids it writes (registered
 * ahead of time, per kind), and the writer schemas of ids met while reading
 * (fetched once each), with how each kind reads them. A registry that cannot
 * answer is a retriable error and is asked again next time; nothing is
 * remembered from a failure.
 * @module
 */
import avro from 'avsc';
import { OrchestratorError } from '../errors.ts';
import type { MessageKind } from './messages.ts';
import type { SchemaRegistryClient } from './registry.ts';

/**
 * A writer schema a reader knows, with the resolver to the current type (null: it is the current type).
 *
 * @example
 * ```ts
 * const v: Version = { type: older, resolver: current.createResolver(older) };
 * ```
 */
export interface Version {
  readonly type: avro.Type;
  readonly resolver: avro.Resolver | null;
}

/**
 * The current schema of a kind, as a codec holds it.
 *
 * @example
 * ```ts
 * const w: WriterSchema = { writer: type, schema: loadSchema('audit.v1.avsc'), fingerprint: type.fingerprint('sha256').toString('hex') };
 * ```
 */
export interface WriterSchema {
  readonly writer: avro.Type;
  /** The schema file as written (defaults and docs kept: what a registry checks compatibility on). */
  readonly schema: avro.Schema;
  /** sha256 of the writer's canonical form, hex. */
  readonly fingerprint: string;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A registry failure as an engine error: `SCHEMA_REGISTRY_UNAVAILABLE` (retriable) unless the cause says it
 * is not retriable (`SCHEMA_REGISTRY_REFUSED`, e.g. an incompatible schema).
 *
 * @example
 * ```ts
 * throw registryError('fetching schema id 7', e);
 * ```
 */
export function registryError(what: string, e: unknown): OrchestratorError {
  const retriable = (e as { retriable?: unknown } | null)?.retriable !== false;
  return new OrchestratorError(retriable ? 'SCHEMA_REGISTRY_UNAVAILABLE' : 'SCHEMA_REGISTRY_REFUSED', `${what}: ${message(e)}`, { retriable, cause: e });
}

/**
 * Registry ids of one codec.
 *
 * @example
 * ```ts
 * const ids = new RegistryIds(client);
 * await ids.register('audit', 'prod.audit-value', auditWriter);
 * ids.idOf('audit'); // 3
 * ```
 */
export class RegistryIds {
  readonly #client: SchemaRegistryClient;
  readonly #ids = new Map<MessageKind, number>();
  readonly #registered = new Map<string, Promise<void>>();
  /** Writer types by id (own registrations and fetched ones), or why an id's schema is unusable. */
  readonly #byId = new Map<number, avro.Type | string>();
  readonly #fetching = new Map<number, Promise<void>>();
  readonly #resolved = new Map<string, Version | string>();

  constructor(client: SchemaRegistryClient) {
    this.#client = client;
  }

  /** Registers a kind's writer schema under `subject` once (a failure is not remembered) and keeps its id. */
  register(kind: MessageKind, subject: string, w: WriterSchema): Promise<void> {
    let p = this.#registered.get(subject);
    if (p === undefined) {
      p = this.#client.register(subject, w.schema).then(
        (id) => {
          this.#ids.set(kind, id);
          this.#byId.set(id, w.writer);
        },
        (e: unknown) => {
          this.#registered.delete(subject);
          throw registryError(`registering the ${kind} schema under ${subject}`, e);
        },
      );
      this.#registered.set(subject, p);
    }
    return p;
  }

  /** The id a kind is written with, once registered. */
  idOf(kind: MessageKind): number | undefined {
    return this.#ids.get(kind);
  }

  /** Whether the schema of `id` is known (or known to be unusable). */
  has(id: number): boolean {
    return this.#byId.has(id);
  }

  /** Fetches the schema of `id` once; afterwards `has(id)` is false only when the registry has no such id. */
  fetch(id: number): Promise<void> {
    let p = this.#fetching.get(id);
    if (p === undefined) {
      p = this.#client.schema(id).then(
        (schema) => {
          this.#fetching.delete(id);
          if (schema === undefined) return;
          try {
            this.#byId.set(id, avro.Type.forSchema(schema));
          } catch (e) {
            this.#byId.set(id, `schema id ${id} is not an Avro schema: ${message(e)}`);
          }
        },
        (e: unknown) => {
          this.#fetching.delete(id);
          throw registryError(`fetching schema id ${id} from the schema registry`, e);
        },
      );
      this.#fetching.set(id, p);
    }
    return p;
  }

  /** How `kind` (current schema `w`) reads the writer schema of `id` (cached), why it cannot, or undefined when not fetched yet. */
  version(kind: MessageKind, w: WriterSchema, id: number): Version | string | undefined {
    const key = `${id}\u0000${kind}`;
    const cached = this.#resolved.get(key);
    if (cached !== undefined) return cached;
    const t = this.#byId.get(id);
    if (t === undefined) return undefined;
    let v: Version | string;
    if (typeof t === 'string') v = t;
    else if (t === w.writer || t.fingerprint('sha256').toString('hex') === w.fingerprint) v = { type: w.writer, resolver: null };
    else {
      try {
        v = { type: t, resolver: w.writer.createResolver(t) };
      } catch (e) {
        v = `schema id ${id} cannot be read as ${kind}: ${message(e)}`;
      }
    }
    this.#resolved.set(key, v);
    return v;
  }
}
