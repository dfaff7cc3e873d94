/**
 * Governance building blocks. For now: PII and secret detection with redaction.
 *
 * @example
 * ```ts
 * import { scanPiiSync } from 'llm-orchestrator/governance';
 * scanPiiSync('key AKIAIOSFODNN7EXAMPLE')[0]?.kind; // 'aws'
 * ```
 * @module
 */
export * from './pii/index.ts';
