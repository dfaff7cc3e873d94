/**
 * How `llmo worker --governance` follows the policies topic: every update with target `governance`
 * (published by `llmo policy apply`) is a whole rules document for the worker's policy guard. Each
 * process reads the topic itself from its beginning (every worker applies every document; the
 * compacted topic keeps the latest), applying in version order: stale and duplicate versions are
 * ignored, an invalid document is an error line and the rules in force stay.
 * @module
 */
import type { Subscription } from 'rxjs';
import { isValidationError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { applyGovernanceUpdate } from '../governance/policy/update.ts';
import type { PolicyGuard } from '../governance/policy/guard-types.ts';
import { GOVERNANCE_POLICY_TARGET } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/**
 * Applies the governance documents of the policies topic to `guard`; resolves once the documents
 * present at start are applied (the worker serves on the current rules from its first request).
 *
 * @example
 * ```ts
 * const sub = await followGovernance(transport, gov.policy, logger);
 * ```
 */
export function followGovernance(transport: Pick<Transport, 'read'>, guard: PolicyGuard, log: Logger): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    let sub: Subscription | undefined;
    let caughtUp = false;
    const ready = (): void => {
      if (caughtUp) return;
      caughtUp = true;
      // onCaughtUp may come before subscribe() returned
      queueMicrotask(() => resolve(sub!));
    };
    sub = transport.read('policy', { fromBeginning: true, onCaughtUp: ready }).subscribe({
      next: (m) => {
        if (m.value.target !== GOVERNANCE_POLICY_TARGET) return;
        try {
          const r = applyGovernanceUpdate(guard, m.value);
          if (r.applied) log.info({ version: r.version, policyId: m.value.policyId }, `governance rules v${r.version} applied`);
          else log.info({ version: r.version, current: r.current }, `governance rules v${r.version} ignored (${r.reason})`);
        } catch (e) {
          if (!isValidationError(e)) throw e;
          log.error({ version: m.value.version, policyId: m.value.policyId, issues: e.issues }, `governance rules v${m.value.version} refused; the rules in force (v${guard.version}) stay`);
        }
      },
      error: (e: unknown) => {
        log.error({ err: e }, 'reading governance rules from the policies topic failed');
        if (!caughtUp) reject(e instanceof Error ? e : new Error(String(e)));
      },
    });
  });
}
