/**
 * Admin actions as audit records: a policy applied or rolled back, a key created or revoked, a
 * run cancelled by an operator. One helper so every admin record has the same shape.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../../errors.ts';
import { JsonValueSchema } from './json.ts';
import type { AuditRecord } from './record.ts';
import type { AuditLog } from './types.ts';

/**
 * zod schema of {@link AdminAction}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * AdminActionSchema.parse({ actor: 'ops@example.com', action: 'admin.policy.apply', details: { version: 7 } });
 * ```
 */
export const AdminActionSchema = z.strictObject({
  /** Who did it: a person or service id. */
  actor: z.string().min(1),
  /** `admin.` and a verb (`admin.policy.apply`, `admin.policy.rollback`, `admin.key.create`, ...). */
  action: z.string().regex(/^admin\.[a-z0-9_.-]+$/i, "expected 'admin.' followed by a verb such as admin.policy.apply"),
  /** The tenant it concerns (the record goes to its stream), if any. */
  tenant: z.string().min(1).optional(),
  /** The run it concerns, if any. */
  runId: z.string().min(1).optional(),
  /** The user it was done for, if any. */
  user: z.string().min(1).optional(),
  /** The request (HTTP, CLI invocation) it came with. */
  requestId: z.string().min(1).optional(),
  /** Particulars: any JSON value (redacted by the log). Never put a key's secret here, only its id. */
  details: JsonValueSchema.optional(),
});

/**
 * An admin action to record (see {@link AdminActionSchema}).
 *
 * @example
 * ```ts
 * const a: AdminAction = { actor: 'ops@example.com', action: 'admin.key.create', tenant: 'acme', details: { keyId: 'k-12' } };
 * ```
 */
export type AdminAction = Readonly<z.input<typeof AdminActionSchema>>;

/**
 * Appends an admin action to the audit log; resolves with the stored record. An invalid action
 * rejects with a `ValidationError` (`AUDIT_ENTRY_INVALID`) naming the field; the log's own
 * rejections (`AUDIT_SINK_FAILED`, `AUDIT_BACKLOG_FULL`, ...) pass through.
 *
 * @example
 * ```ts
 * await auditAdmin(log, { actor: 'ops@example.com', action: 'admin.policy.apply', details: { topology: 'rag', version: 7 } });
 * ```
 */
export async function auditAdmin(log: AuditLog, action: AdminAction): Promise<AuditRecord> {
  const r = AdminActionSchema.safeParse(action);
  if (!r.success) throw new ValidationError('AUDIT_ENTRY_INVALID', 'admin action is invalid', toIssues(r.error.issues, ['action']));
  const a = r.data;
  return log.append({
    actor: a.actor,
    action: a.action,
    ...(a.tenant === undefined ? {} : { tenant: a.tenant }),
    ...(a.runId === undefined ? {} : { runId: a.runId }),
    ...(a.user === undefined ? {} : { user: a.user }),
    ...(a.requestId === undefined ? {} : { requestId: a.requestId }),
    details: a.details ?? {},
  });
}
