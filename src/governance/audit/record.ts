/**
 * The audit record: who did what, to which run of which tenant, when; numbered per stream
 * (`seq` from 0 without gaps) and hash-chained (`prevHash` is the `hash` of the stream's
 * previous record, `hash` is SHA-256 over the canonical JSON of every other field). The zod
 * schema is the source of truth of the shape.
 * @module
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { canonicalJson } from './canonical.ts';
import { JsonValueSchema } from './json.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hash, 64 lowercase hex characters');

/**
 * `prevHash` of the first record (seq 0) of every stream.
 *
 * @example
 * ```ts
 * first.prevHash === AUDIT_GENESIS; // true
 * ```
 */
export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * zod schema of {@link AuditRecord}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * const r = AuditRecordSchema.safeParse(JSON.parse(line));
 * ```
 */
export const AuditRecordSchema = z.strictObject({
  /** The chain the record belongs to: a tenant, or `global`. */
  stream: z.string().min(1),
  /** Position in its stream, from 0 without gaps. */
  seq: z.number().int().nonnegative(),
  /** When, epoch ms. */
  ts: z.number().finite().nonnegative(),
  /** Who: a user, service or worker id. */
  actor: z.string().min(1),
  /** What: `run.started`, `run.completed`, `run.failed`, `run.cancelled`, `model.call`, `policy.decision`, `admin.*`, ... */
  action: z.string().min(1),
  runId: z.string().nullable(),
  tenant: z.string().nullable(),
  topology: z.string().nullable(),
  /** The user within the tenant the action was for. */
  user: z.string().nullable(),
  requestId: z.string().nullable(),
  /** The particulars, any JSON value (redacted when the log redacts). */
  details: JsonValueSchema,
  /** `hash` of the stream's previous record; {@link AUDIT_GENESIS} for seq 0. */
  prevHash: hex64,
  /** SHA-256 (hex) of the canonical JSON of every field but this one. */
  hash: hex64,
});

/**
 * One audit record (see {@link AuditRecordSchema} for the fields).
 *
 * @example
 * ```ts
 * const r: AuditRecord = await log.append({ actor: 'ops@example.com', action: 'admin.cancel', runId });
 * console.log(r.stream, r.seq, r.hash);
 * ```
 */
export type AuditRecord = Readonly<z.output<typeof AuditRecordSchema>>;

/**
 * The hash a record must carry: SHA-256 (hex) of the canonical JSON of every field but `hash`.
 *
 * @example
 * ```ts
 * const intact = auditHash(record) === record.hash;
 * ```
 */
export function auditHash(record: Omit<AuditRecord, 'hash'> & { readonly hash?: string }): string {
  const { hash: _hash, ...rest } = record;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * The record with its `hash` set.
 *
 * @example
 * ```ts
 * const r = sealAudit({ ...fields, prevHash: AUDIT_GENESIS });
 * ```
 */
export function sealAudit(record: Omit<AuditRecord, 'hash'>): AuditRecord {
  return { ...record, hash: auditHash(record) };
}

/**
 * Where each stream's chain ends: its last seq and hash (what a log resumes from).
 *
 * @example
 * ```ts
 * const log = createAuditLog({ sink, heads: auditHeads(sink.records) });
 * ```
 */
export type AuditHeads = Readonly<Record<string, { readonly seq: number; readonly hash: string }>>;

/**
 * The last record of each stream in `records` (in order), as {@link AuditHeads}.
 *
 * @example
 * ```ts
 * auditHeads(records).global?.seq; // the last seq of the global stream
 * ```
 */
export function auditHeads(records: readonly AuditRecord[]): AuditHeads {
  const heads = Object.create(null) as Record<string, { seq: number; hash: string }>;
  for (const r of records) {
    const h = heads[r.stream];
    if (h === undefined || r.seq > h.seq) heads[r.stream] = { seq: r.seq, hash: r.hash };
  }
  return heads;
}
