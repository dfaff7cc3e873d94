/**
 * The audit log writer: `append` numbers each record in its stream and chains it to the
 * previous one synchronously, in call order (so concurrent appends to one stream stay
 * ordered), redacts PII in its text fields, and hands records to a sink in batches, one
 * write at a time. A failing sink is never swallowed: the appends it was writing reject,
 * `health()` says `down` with the error and the `failed` count, and the records stay
 * queued (the chain has no gap) and are written again, first, by the next append or flush.
 * @module
 */
import * as z from 'zod';
import { OrchestratorError, ValidationError, toIssues } from '../../errors.ts';
import { createPiiRedactor, type PiiRedactor } from '../pii/index.ts';
import { AUDIT_GENESIS, JsonValueSchema, sealAudit, type AuditHeads, type AuditRecord } from './record.ts';

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

interface Pending {
  readonly record: AuditRecord;
  readonly resolve: (r: AuditRecord) => void;
  readonly reject: (e: unknown) => void;
  settled: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The value with every lone UTF-16 surrogate (in strings and keys) replaced by U+FFFD, as UTF-8
 * (a file, an Avro string) would store it: what is hashed is what any reader reads back.
 */
function wellFormed<T>(v: T): T {
  if (typeof v === 'string') return v.replace(LONE_SURROGATE, '\uFFFD') as T;
  if (Array.isArray(v)) return v.map((x: unknown) => wellFormed(x)) as T;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), wellFormed(x)])) as T;
  return v;
}

const sinkFailed = (e: unknown): OrchestratorError =>
  new OrchestratorError('AUDIT_SINK_FAILED', `audit sink failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retriable: true });

/**
 * Makes an audit log writing to `options.sink`. Invalid options throw a `ValidationError`
 * (`OPTIONS_INVALID`) naming the field.
 *
 * @example
 * ```ts
 * const sink = createMemoryAuditSink();
 * const log = createAuditLog({ sink });
 * await log.append({ actor: 'ops@example.com', action: 'admin.cancel', runId: 'r-1', tenant: 'acme' });
 * sink.records[0]?.stream; // 'acme'
 * ```
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const parsed = AuditLogOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'audit log options are invalid', toIssues(parsed.error.issues, ['options']));
  const { sink } = options;
  const redactor = options.redact === false ? undefined : options.redact === true || options.redact === undefined ? createPiiRedactor({ mode: 'mask' }) : options.redact;
  const clock = options.clock ?? Date.now;
  const streamOf = options.streamOf ?? ((e: Readonly<z.output<typeof AuditEntrySchema>>) => e.tenant ?? 'global');
  const maxPending = options.maxPending ?? 10_000;
  const heads = new Map<string, { seq: number; hash: string }>(Object.entries(options.heads ?? {}));

  const queue: Pending[] = [];
  let writing: Promise<void> | undefined;
  let written = 0;
  let failed = 0;
  let lastError: string | undefined;
  let down = false;
  let closed = false;

  /** Writes everything queued, batch after batch; rejects when a write fails (the batch stays queued). */
  const drain = (): Promise<void> => {
    writing ??= (async () => {
      try {
        while (queue.length > 0) {
          const batch = queue.slice();
          try {
            await sink.write(batch.map((p) => p.record));
          } catch (e) {
            failed++;
            down = true;
            lastError = e instanceof Error ? e.message : String(e);
            const err = sinkFailed(e);
            for (const p of batch) {
              if (!p.settled) {
                p.settled = true;
                p.reject(err);
              }
            }
            throw err;
          }
          queue.splice(0, batch.length);
          written += batch.length;
          down = false;
          lastError = undefined;
          for (const p of batch) {
            if (!p.settled) {
              p.settled = true;
              p.resolve(p.record);
            }
          }
        }
      } finally {
        writing = undefined;
      }
    })();
    return writing;
  };

  const text = (s: string | null | undefined): string | null => (s === undefined || s === null ? null : redactor === undefined ? s : redactor.redactSync(s).text);

  return {
    append(entry: AuditEntry): Promise<AuditRecord> {
      if (closed) return Promise.reject(new OrchestratorError('AUDIT_LOG_CLOSED', 'the audit log is closed'));
      const e = AuditEntrySchema.safeParse(entry);
      if (!e.success) return Promise.reject(new ValidationError('AUDIT_ENTRY_INVALID', 'audit entry is invalid', toIssues(e.error.issues, ['entry'])));
      if (queue.length >= maxPending) {
        return Promise.reject(new OrchestratorError('AUDIT_BACKLOG_FULL', `the audit sink has not stored the last ${queue.length} records (maxPending ${maxPending})${lastError === undefined ? '' : `: ${lastError}`}`, { retriable: true }));
      }
      const v = wellFormed(e.data);
      let stream: string;
      try {
        stream = v.stream ?? streamOf(v);
      } catch (err) {
        return Promise.reject(new OrchestratorError('AUDIT_ENTRY_INVALID', `streamOf failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
      if (typeof stream !== 'string' || stream === '') {
        return Promise.reject(new ValidationError('AUDIT_ENTRY_INVALID', 'audit entry is invalid', [{ code: 'invalid_type', path: ['entry', 'stream'], message: 'streamOf must return a non-empty string' }]));
      }
      const head = heads.get(stream);
      const details = v.details === undefined ? {} : redactor === undefined ? v.details : redactor.redactValueSync(v.details);
      const record = sealAudit({
        stream,
        seq: head === undefined ? 0 : head.seq + 1,
        ts: v.ts ?? clock(),
        actor: text(v.actor) ?? '',
        action: v.action,
        runId: v.runId ?? null,
        tenant: v.tenant ?? null,
        topology: v.topology ?? null,
        user: text(v.user),
        requestId: v.requestId ?? null,
        details,
        prevHash: head === undefined ? AUDIT_GENESIS : head.hash,
      });
      heads.set(stream, { seq: record.seq, hash: record.hash });
      return new Promise<AuditRecord>((resolve, reject) => {
        queue.push({ record, resolve, reject, settled: false });
        // a write in flight picks the record up in its next batch; its failure rejects this promise
        if (writing === undefined) drain().catch(() => undefined);
      });
    },
    async flush(): Promise<void> {
      if (writing !== undefined) await writing.catch(() => undefined);
      await drain();
      await sink.flush?.().catch((e: unknown) => {
        failed++;
        down = true;
        lastError = e instanceof Error ? e.message : String(e);
        throw sinkFailed(e);
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      await this.flush();
      closed = true;
      await sink.close?.();
    },
    health(): AuditHealth {
      return { status: down ? 'down' : 'up', written, pending: queue.length, failed, ...(lastError === undefined ? {} : { lastError }) };
    },
    heads(): AuditHeads {
      return Object.fromEntries(heads);
    },
  };
}
