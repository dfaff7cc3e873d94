/**
 * The audit log writer: `append` numbers each record in its stream and chains it to the
 * previous one synchronously, in call order (so concurrent appends to one stream stay
 * ordered), redacts PII in its text fields, and hands records to a sink in batches, one
 * write at a time. A failing sink is never swallowed: the appends it was writing reject,
 * `health()` says `down` with the error and the `failed` count, and the records stay
 * queued (the chain has no gap) and are written again, first, by the next append or flush
 * (records appended meanwhile wait for it too). A sink that stored part of a failed batch gets
 * that part again: verification names such a repeat as a `duplicate`.
 * @module
 */
import type * as z from 'zod';
import { OrchestratorError, ValidationError, toIssues } from '../../errors.ts';
import { createPiiRedactor } from '../pii/index.ts';
import { wellFormed } from './json.ts';
import { AUDIT_GENESIS, sealAudit, type AuditHeads, type AuditRecord } from './record.ts';
import { AuditEntrySchema, AuditLogOptionsSchema, type AuditEntry, type AuditHealth, type AuditLog, type AuditLogOptions } from './types.ts';


interface Pending {
  readonly record: AuditRecord;
  readonly resolve: (r: AuditRecord) => void;
  readonly reject: (e: unknown) => void;
  settled: boolean;
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
