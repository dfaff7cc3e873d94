/**
 * The audit message: who did what, to which run of which tenant, when, as a TypeScript type
 * mirroring the Avro schema in `schemas/`.
 * @module
 */

/**
 * An audit record: who did what, to which run of which tenant, when (v2 adds `tenant`,
 * `requestId` and `topology`; v3 adds `user` and the hash chain `stream`, `seq`, `prevHash`,
 * `hash`, see `AuditRecord` in `llm-orchestrator/governance`). Older data reads the added
 * fields as null: such a record belongs to no chain.
 *
 * @example
 * ```ts
 * await transport.send('audit', [{ key: runId, value: {
 *   ts: Date.now(), actor: 'ops@example.com', action: 'cancel', runId, details: '{"why":"stuck"}',
 *   tenant: 'acme', requestId: null, topology: 'rag',
 * } }]);
 * ```
 */
export interface AuditMessage {
  /** When, epoch ms. */
  readonly ts: number;
  /** Who: a user, service or worker id. */
  readonly actor: string;
  /** What, e.g. `cancel`, `policy.apply`. */
  readonly action: string;
  readonly runId: string | null;
  /** JSON of the particulars. */
  readonly details: string;
  /** v2 fields below: always set when read; null when the writer omitted them or wrote v1. */
  readonly tenant?: string | null;
  readonly requestId?: string | null;
  readonly topology?: string | null;
  /** v3 fields below: always set when read; null when the writer omitted them or wrote v1/v2. */
  readonly user?: string | null;
  /** The hash chain (a tenant or `global`); null for a record outside any chain. */
  readonly stream?: string | null;
  /** Position in the stream, from 0 without gaps. */
  readonly seq?: number | null;
  /** Hash of the stream's previous record. */
  readonly prevHash?: string | null;
  /** SHA-256 (hex) of the canonical JSON of the record's other fields. */
  readonly hash?: string | null;
}
