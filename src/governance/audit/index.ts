/**
 * The tamper-evident audit log: hash-chained records per stream, a writer with PII redaction
 * and pluggable sinks (memory, JSONL file, the audit topic), engine events as records, and
 * verification naming the first modified, missing, reordered or duplicate record of each stream.
 *
 * @example
 * ```ts
 * import { createAuditLog, createMemoryAuditSink, verifyAudit } from 'llm-orchestrator/governance';
 * const sink = createMemoryAuditSink();
 * const log = createAuditLog({ sink });
 * await log.append({ actor: 'ops@example.com', action: 'admin.cancel', runId: 'r-1' });
 * verifyAudit(sink.records).ok; // true
 * ```
 * @module
 */
export { canonicalJson } from './canonical.ts';
export { JsonValueSchema, type JsonValue } from './json.ts';
export { AUDIT_GENESIS, AuditRecordSchema, auditHash, auditHeads, sealAudit, type AuditHeads, type AuditRecord } from './record.ts';
export { createAuditLog } from './log.ts';
export { AuditEntrySchema, AuditLogOptionsSchema, type AuditEntry, type AuditHealth, type AuditLog, type AuditLogOptions, type AuditSink } from './types.ts';
export { createJsonlAuditSink, createMemoryAuditSink, readAuditFile, type MemoryAuditSink } from './sinks.ts';
export { auditFromMessage, auditToMessage, createKafkaAuditSink, readAuditTopic, type AuditTopicRead } from './kafka.ts';
export { verifyAudit, type AuditProblem, type AuditVerification } from './verify.ts';
export { AuditEventsOptionsSchema, auditEntryOf, auditEvents, type AuditEventsOptions } from './events.ts';
