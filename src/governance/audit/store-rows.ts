/**
 * What the SQL audit stores share: the table's migrations (same DDL on SQLite and PostgreSQL),
 * how a row becomes a record again, and the error of a failed write.
 * @module
 */
import { OrchestratorError } from '../../errors.ts';

/**
 * One step of the audit table's schema, given the qualified table prefix (`""` or `"schema".`).
 * Append only: a released step never changes.
 *
 * @example
 * ```ts
 * const latest = AUDIT_MIGRATIONS[AUDIT_MIGRATIONS.length - 1]!.version;
 * ```
 */
export const AUDIT_MIGRATIONS: readonly { readonly version: number; readonly up: (prefix: string) => readonly string[] }[] = [
  {
    version: 1,
    up: (p) => [
      `CREATE TABLE ${p}llmo_audit (
        stream TEXT NOT NULL,
        seq INTEGER NOT NULL,
        record TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (stream, seq)
      )`,
    ],
  },
];

/**
 * The audit table's schema version this build writes.
 *
 * @example
 * ```ts
 * AUDIT_SCHEMA_VERSION; // 1
 * ```
 */
export const AUDIT_SCHEMA_VERSION = AUDIT_MIGRATIONS[AUDIT_MIGRATIONS.length - 1]?.version ?? 0;

/**
 * A row's record: its JSON parsed, or the raw text when it does not parse (verification then reports it).
 *
 * @example
 * ```ts
 * recordOfRow('{"seq":0}'); // { seq: 0 }
 * ```
 */
export function recordOfRow(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The error of a failed audit write or read (`AUDIT_STORE_FAILED`, retriable unless a chain position was taken).
 *
 * @example
 * ```ts
 * throw auditStoreFailed('write to', 'runs.db', e, true);
 * ```
 */
export function auditStoreFailed(what: string, where: string, e: unknown, retriable: boolean): OrchestratorError {
  return new OrchestratorError('AUDIT_STORE_FAILED', `cannot ${what} the audit table of ${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retriable });
}
