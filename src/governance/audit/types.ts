/**
 * The audit log's interfaces: what `append` takes, the options of `createAuditLog`, the sink a
 * log writes to, and the log itself with its health.
 * @module
 */
import * as z from 'zod';
import type { PiiRedactor } from '../pii/index.ts';
import { JsonValueSchema } from './json.ts';
import type { AuditHeads, AuditRecord } from './record.ts';

/**
 * Where records go: a file, a topic, a table. `write` gets records in append order and must
 * keep it; it resolves once they are stored (a rejection leaves them queued in the log).
 *
 * @example
 * ```ts
 * const sink: AuditSink = { write: async (records) => { for (const r of records) rows.push(r); } };
 * ```
 */
export interface AuditSink {
  write(records: readonly AuditRecord[]): Promise<void>;
  /** Makes what was written durable (fsync). */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

const isSink = (v: unknown): v is AuditSink => typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function';
const isFunction = (v: unknown): boolean => typeof v === 'function';
const isRedactor = (v: unknown): v is PiiRedactor => typeof v === 'object' && v !== null && typeof (v as { redactValueSync?: unknown }).redactValueSync === 'function';

/**
 * zod schema of {@link AuditEntry}: what `append` takes.
 *
 * @example
 * ```ts
 * AuditEntrySchema.parse({ actor: 'ops@example.com', action: 'admin.cancel', runId: 'r-1' });
 * ```
 */
export const AuditEntrySchema = z.strictObject({
  actor: z.string().min(1),
  action: z.string().min(1),
  /** Default: the log's clock. */
  ts: z.number().finite().nonnegative().optional(),
  /** Default: the log's `streamOf` (the tenant, else `global`). */
  stream: z.string().min(1).optional(),
  runId: z.string().nullable().optional(),
  tenant: z.string().nullable().optional(),
  topology: z.string().nullable().optional(),
  user: z.string().nullable().optional(),
  requestId: z.string().nullable().optional(),
  /** Any JSON value (default `{}`). */
  details: JsonValueSchema.optional(),
});

/**
 * What `append` takes: the record without its chain fields.
 *
 * @example
 * ```ts
 * const e: AuditEntry = { actor: 'worker-1', action: 'run.started', runId, tenant: 'acme', details: { priority: 'normal' } };
 * ```
 */
export type AuditEntry = Readonly<Omit<z.input<typeof AuditEntrySchema>, 'details'> & { details?: unknown }>;

/**
 * zod schema of {@link AuditLogOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * AuditLogOptionsSchema.parse({ sink: createMemoryAuditSink(), redact: false });
 * ```
 */
export const AuditLogOptionsSchema = z.strictObject({
  sink: z.custom<AuditSink>(isSink, 'expected an audit sink ({ write(records) })'),
  /** Redact PII (mask mode) in `actor`, `user` and every string of `details` (default true), or redact with this redactor. */
  redact: z.union([z.boolean(), z.custom<PiiRedactor>(isRedactor, 'expected true, false or a PII redactor (createPiiRedactor)')]).optional(),
  /** Epoch ms (default `Date.now`). */
  clock: z.custom<() => number>(isFunction, 'expected a function returning epoch ms').optional(),
  /** The stream of an entry without one (default: its tenant, else `global`). */
  streamOf: z.custom<(entry: Readonly<z.output<typeof AuditEntrySchema>>) => string>(isFunction, 'expected a function (entry) => stream').optional(),
  /** Where streams' chains end already (a log continuing a file or topic, see `auditHeads`). */
  heads: z.record(z.string(), z.strictObject({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) })).optional(),
  /** Records appended but not yet written, at most (default 10000): beyond it `append` rejects with `AUDIT_BACKLOG_FULL`, numbering nothing. */
  maxPending: z.number().int().positive().optional(),
});

/**
 * Options of {@link createAuditLog}.
 *
 * @example
 * ```ts
 * const options: AuditLogOptions = { sink: createJsonlAuditSink('audit.jsonl'), clock: () => 0 };
 * ```
 */
export interface AuditLogOptions {
  readonly sink: AuditSink;
  readonly redact?: boolean | PiiRedactor;
  readonly clock?: () => number;
  /** Gets the entry as validated (`details` a JSON value). */
  readonly streamOf?: (entry: Readonly<z.output<typeof AuditEntrySchema>>) => string;
  readonly heads?: AuditHeads;
  readonly maxPending?: number;
}

/**
 * The log's state: `down` after a failed write until a write succeeds again.
 *
 * @example
 * ```ts
 * if (log.health().status === 'down') alert(log.health().lastError);
 * ```
 */
export interface AuditHealth {
  readonly status: 'up' | 'down';
  /** Records the sink stored. */
  readonly written: number;
  /** Records appended, not yet stored. */
  readonly pending: number;
  /** Sink writes that failed. */
  readonly failed: number;
  readonly lastError?: string;
}

/**
 * An audit log (see the module doc).
 *
 * @example
 * ```ts
 * const record = await log.append({ actor: 'ops@example.com', action: 'admin.cancel', runId });
 * ```
 */
export interface AuditLog {
  /**
   * Numbers, chains, redacts and queues the entry at once; resolves with the record once the
   * sink stored it. Rejects with a `ValidationError` (`AUDIT_ENTRY_INVALID`) naming the field,
   * `AUDIT_BACKLOG_FULL`, `AUDIT_LOG_CLOSED`, or `AUDIT_SINK_FAILED` (the sink's error as cause).
   */
  append(entry: AuditEntry): Promise<AuditRecord>;
  /** Writes what is queued and flushes the sink; rejects with `AUDIT_SINK_FAILED` when the sink fails. */
  flush(): Promise<void>;
  /** Flushes, then closes the sink. Appends after it reject. */
  close(): Promise<void>;
  health(): AuditHealth;
  /** Where each stream's chain ends now (queued records included). */
  heads(): AuditHeads;
}

/**
 * An audit sink in a database, readable back.
 *
 * @example
 * ```ts
 * const store = await openAuditStore('runs.db');
 * const log = createAuditLog({ sink: store, heads: await store.heads() });
 * verifyAudit(await store.read()).ok;
 * ```
 */
export interface AuditStore extends AuditSink {
  /**
   * The stored records, by stream then seq (of one stream when given): each row's JSON parsed,
   * or its raw text when it does not parse (`verifyAudit` then reports it as modified).
   */
  read(stream?: string): Promise<unknown[]>;
  /** Where each stream's chain ends in the table (its highest seq and that row's hash). */
  heads(): Promise<AuditHeads>;
  /** Releases the connection(s); writes after it reject with `STORE_CLOSED`. */
  close(): Promise<void>;
}
