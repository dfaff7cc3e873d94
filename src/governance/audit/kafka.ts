/**
 * Audit records on the audit topic: a sink sending them keyed by stream (one stream stays in
 * one partition, in order), the conversion to and from the Avro message (v3), and a reader of
 * the whole topic for verification.
 * @module
 */
import { canonicalJson } from './canonical.ts';
import type { AuditSink } from './types.ts';
import type { AuditRecord } from './record.ts';
import type { AuditMessage } from '../../transports/messages.ts';
import type { Transport } from '../../transports/transport.ts';

/**
 * The audit message of a record (`details` as canonical JSON text).
 *
 * @example
 * ```ts
 * await transport.send('audit', [{ key: record.stream, value: auditToMessage(record) }]);
 * ```
 */
export function auditToMessage(r: AuditRecord): AuditMessage {
  return {
    ts: r.ts, actor: r.actor, action: r.action, runId: r.runId, details: canonicalJson(r.details),
    tenant: r.tenant, requestId: r.requestId, topology: r.topology, user: r.user,
    stream: r.stream, seq: r.seq, prevHash: r.prevHash, hash: r.hash,
  };
}

/**
 * The record an audit message carries, for {@link verifyAudit}: an object with the record's fields
 * (`details` parsed; left as text when it is not JSON, which verification reports), or `undefined`
 * for a message outside any chain (v1/v2 data, or written without one).
 *
 * @example
 * ```ts
 * const record = auditFromMessage(envelope.value);
 * ```
 */
export function auditFromMessage(m: AuditMessage): Record<string, unknown> | undefined {
  if ((m.stream ?? null) === null && (m.hash ?? null) === null) return undefined;
  let details: unknown = m.details;
  try {
    details = JSON.parse(m.details) as unknown;
  } catch {
    // kept as text: not what was hashed, so verification names the record
  }
  return {
    stream: m.stream ?? null, seq: m.seq ?? null, ts: m.ts, actor: m.actor, action: m.action, runId: m.runId,
    tenant: m.tenant ?? null, topology: m.topology ?? null, user: m.user ?? null, requestId: m.requestId ?? null,
    details, prevHash: m.prevHash ?? null, hash: m.hash ?? null,
  };
}

/**
 * A sink sending records to the audit topic, keyed by stream. A send failure rejects (the log keeps the records).
 *
 * @example
 * ```ts
 * const log = createAuditLog({ sink: createKafkaAuditSink(transport) });
 * ```
 */
export function createKafkaAuditSink(transport: Pick<Transport, 'send'>): AuditSink {
  return {
    write: (records) => transport.send('audit', records.map((r) => ({ key: r.stream, value: auditToMessage(r) }))),
  };
}

/**
 * What {@link readAuditTopic} found: the chained records (as {@link auditFromMessage} makes them)
 * in topic order, and how many messages belonged to no chain.
 *
 * @example
 * ```ts
 * const { records, unchained } = await readAuditTopic(transport);
 * ```
 */
export interface AuditTopicRead {
  readonly records: readonly Record<string, unknown>[];
  readonly unchained: number;
}

/**
 * Reads the audit topic from its beginning to the end it had when the read started.
 * Rejects when the read fails.
 *
 * @example
 * ```ts
 * const result = verifyAudit((await readAuditTopic(transport)).records);
 * ```
 */
export function readAuditTopic(transport: Pick<Transport, 'read'>): Promise<AuditTopicRead> {
  return new Promise<AuditTopicRead>((resolve, reject) => {
    const records: Record<string, unknown>[] = [];
    let unchained = 0;
    let end = false;
    let sub: { unsubscribe(): void } | undefined;
    const finish = (): void => {
      end = true;
      sub?.unsubscribe();
      resolve({ records, unchained });
    };
    sub = transport.read('audit', { fromBeginning: true, onCaughtUp: finish }).subscribe({
      next: (m) => {
        if (end) return;
        const r = auditFromMessage(m.value);
        if (r === undefined) unchained++;
        else records.push(r);
      },
      error: (e: unknown) => reject(e),
    });
    if (end) sub.unsubscribe(); // caught up while subscribing (an in-memory topic)
  });
}
