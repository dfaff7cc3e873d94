/**
 * Governance building blocks: PII and secret detection with redaction, the tamper-evident audit log, and the policy layer (rules as an engine guard).
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
export * from './policy/index.ts';
