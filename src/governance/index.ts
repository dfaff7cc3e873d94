/**
 * Governance building blocks: PII and secret detection with redaction, the tamper-evident audit log (and its store),
 * the policy layer (rules as an engine guard), budgets and quotas (a guard over a ledger), cost alerts.
 *
 * @example
 * ```ts
 * import { scanPiiSync } from 'llm-orchestrator/governance';
 * scanPiiSync('key AKIAIOSFODNN7EXAMPLE')[0]?.kind; // 'aws'
 * ```
 * @module
 */
export * from './pii/index.ts';
export * from './audit/index.ts';
export { AdminActionSchema, auditAdmin, type AdminAction } from './audit/admin.ts';
export { OpenAuditStoreOptionsSchema, openAuditStore, type AuditStore, type OpenAuditStoreOptions } from './audit/store.ts';
export * from './cost/index.ts';
export * from './policy/index.ts';
export * from './budget/index.ts';
