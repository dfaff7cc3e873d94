/**
 * The policies topic as `llmo policy` sees it: read from the beginning to its end,
 * then replayed the way a worker's loop applies it (each update validated with the
 * loop's policy schema; per target, a version must be above the current one, the same
 * version with the same document is a duplicate), so `show` prints what the workers
 * have, and `apply`/`rollback` number the next version after it. A worker's loop also
 * checks an update against its topology (node ids, variants): `apply --topology` does too.
 * @module
 */
import type { Issue } from '../errors.ts';
import { policyFromMessage } from '../loops/policy.ts';
import type { PolicyVersion } from '../loops/types.ts';
import { GOVERNANCE_POLICY_TARGET, type PolicyUpdateMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/**
 * The replayed topic: the versions of each target in order (the last is current), and the
 * updates a loop would refuse, with why.
 *
 * @example
 * ```ts
 * const log = replayPolicies(updates);
 * log.versions.get('qa')?.at(-1)?.version; // the current version of qa
 * ```
 */
export interface PolicyLog {
  readonly versions: ReadonlyMap<string, readonly PolicyVersion[]>;
  readonly refused: readonly { readonly update: PolicyUpdateMessage; readonly issues: readonly Issue[] }[];
}

/**
 * Replays policy updates in topic order (see the module doc).
 *
 * @example
 * ```ts
 * replayPolicies([v1, v2, bad]).refused.length; // 1
 * ```
 */
export function replayPolicies(updates: readonly PolicyUpdateMessage[]): PolicyLog {
  const versions = new Map<string, PolicyVersion[]>();
  const refused: { update: PolicyUpdateMessage; issues: readonly Issue[] }[] = [];
  for (const update of updates) {
    if (update.target === GOVERNANCE_POLICY_TARGET) continue; // governance rules: the policy guards', not a loop's
    const r = policyFromMessage(update);
    if (!r.ok) {
      refused.push({ update, issues: r.issues });
      continue;
    }
    const list = versions.get(r.policy.target) ?? [];
    const current = list.at(-1);
    if (current !== undefined && r.policy.version <= current.version) {
      if (r.policy.version === current.version && JSON.stringify(r.policy.document) === JSON.stringify(current.document)) continue; // a duplicate
      refused.push({ update, issues: [{ code: 'stale_version', path: ['version'], message: `version ${r.policy.version} is not above the current ${current.version}` }] });
      continue;
    }
    list.push(r.policy);
    versions.set(r.policy.target, list);
  }
  return { versions, refused };
}

/**
 * Reads the policies topic from its beginning to the end it had when the read started.
 *
 * @example
 * ```ts
 * const log = replayPolicies(await readPolicyTopic(transport));
 * ```
 */
export function readPolicyTopic(transport: Pick<Transport, 'read'>): Promise<PolicyUpdateMessage[]> {
  return new Promise<PolicyUpdateMessage[]>((resolve, reject) => {
    const out: PolicyUpdateMessage[] = [];
    let end = false;
    let sub: { unsubscribe(): void } | undefined;
    const finish = (): void => {
      end = true;
      sub?.unsubscribe();
      resolve(out);
    };
    sub = transport.read('policy', { fromBeginning: true, onCaughtUp: finish }).subscribe({
      next: (m) => { if (!end) out.push(m.value); },
      error: (e: unknown) => reject(e),
    });
    if (end) sub.unsubscribe(); // caught up while subscribing (an in-memory topic)
  });
}
