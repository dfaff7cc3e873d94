/**
 * Governance building blocks: PII and secret detection with redaction, and the tamper-evident audit log.
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
export * from './budget/index.ts';
