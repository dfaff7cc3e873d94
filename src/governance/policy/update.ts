/**
 * Hot reload from the policies topic: a `PolicyUpdateMessage` with `target: 'governance'`
 * carries the rules document as JSON text in `params.document` (a JSON object, or a JSON string
 * holding YAML) and its `version`. Stale and duplicate versions are ignored (and said so); an
 * invalid message or document throws a `ValidationError`, so the consumer dead-letters it.
 *
 * @example
 * ```ts
 * for await (const m of transport.read('policy')) {
 *   const r = applyGovernanceUpdate(policies, m.value);
 *   if (!r.applied) log.info(r.reason);
 * }
 * ```
 * @module
 */
import { ValidationError, toIssues } from '../../errors.ts';
import { GOVERNANCE_POLICY_TARGET, PolicyUpdateSchema, type PolicyUpdateMessage } from '../../transports/messages.ts';
import type { PolicyGuard } from './guard.ts';
import type { PolicyDocumentInput } from './schema.ts';

/**
 * The target of governance updates on the policies topic.
 *
 * @example
 * ```ts
 * const msg = { policyId: 'gov', version: 4, target: GOVERNANCE_TARGET, params: { document: JSON.stringify(doc) }, reason: null, ts: Date.now() };
 * ```
 */
export const GOVERNANCE_TARGET = GOVERNANCE_POLICY_TARGET;

/**
 * What {@link applyGovernanceUpdate} did: applied a version, or ignored the message and why.
 *
 * @example
 * ```ts
 * const r: GovernanceUpdateResult = { applied: false, reason: 'stale', version: 4, current: 6 };
 * ```
 */
export type GovernanceUpdateResult =
  | { readonly applied: true; readonly version: number }
  | { readonly applied: false; readonly reason: 'stale' | 'duplicate' | 'other_target'; readonly version: number; readonly current: number };

/**
 * Applies a governance policy update to `guard`. Throws a `ValidationError`:
 * `POLICY_UPDATE_INVALID` for a malformed message (`params.document` missing or not JSON) and
 * the guard's `POLICY_INVALID` for an invalid document (the rules in force then stay).
 *
 * @example
 * ```ts
 * applyGovernanceUpdate(policies, { policyId: 'gov', version: 2, target: 'governance', params: { document: '{"rules":[]}' }, reason: null, ts: 0 });
 * // { applied: true, version: 2 }
 * ```
 */
export function applyGovernanceUpdate(guard: PolicyGuard, msg: PolicyUpdateMessage): GovernanceUpdateResult {
  const r = PolicyUpdateSchema.safeParse(msg);
  if (!r.success) throw new ValidationError('POLICY_UPDATE_INVALID', 'governance policy update is invalid', toIssues(r.error.issues));
  const current = guard.version;
  if (msg.target !== GOVERNANCE_TARGET) return { applied: false, reason: 'other_target', version: msg.version, current };
  const text = msg.params['document'];
  if (text === undefined) {
    throw new ValidationError('POLICY_UPDATE_INVALID', 'governance policy update is invalid', [{ code: 'missing_field', path: ['params', 'document'], message: 'the rules document (JSON text) is missing' }]);
  }
  if (msg.version === current) return { applied: false, reason: 'duplicate', version: msg.version, current };
  if (msg.version < current) return { applied: false, reason: 'stale', version: msg.version, current };
  const value = JSON.parse(text) as unknown; // checked as JSON by the schema
  return { applied: true, version: guard.apply(value as PolicyDocumentInput | string, { version: msg.version }) };
}
