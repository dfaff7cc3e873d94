/**
 * The policy versions of each topology: which is current, the recent ones before it, and
 * rollbacks (as new versions). Pure and synchronous: no timers, no I/O; a loop keeps one and
 * feeds it updates from the policies topic, the CLI or code.
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod';
import type { Issue } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import { parseOptions } from '../runtime/options.ts';
import { checkPolicyAgainst } from './policy.ts';
import type { PolicyDocument, PolicyOutcome, PolicyVersion } from './types.ts';

/**
 * Options of {@link createPolicyRegistry}.
 *
 * @example
 * ```ts
 * const o: PolicyRegistryOptions = { topologies: [qa], historySize: 20, now: () => clock.now };
 * ```
 */
export interface PolicyRegistryOptions {
  /** Topologies policies are checked against (more can be registered later). */
  readonly topologies?: readonly AnyTopology[] | undefined;
  /** Versions kept per target, current included. Default 50. */
  readonly historySize?: number | undefined;
  /** Clock of rollback versions' `ts`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

const OptionsSchema = z.strictObject({
  topologies: z.array(z.custom<AnyTopology>((t) => typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string', 'a topology')).readonly().optional(),
  historySize: z.number().int().positive().optional(),
  now: z.custom<() => number>((f) => typeof f === 'function', 'a function returning epoch ms').optional(),
});

/**
 * Versioned policies by target topology (see {@link createPolicyRegistry}).
 *
 * @example
 * ```ts
 * const registry = createPolicyRegistry({ topologies: [qa] });
 * registry.apply({ target: 'qa', version: 1, policyId: 'p', document: { nodes: { answer: { model: 'sim:small' } } }, reason: null, ts: 0 });
 * registry.current('qa')?.version; // 1
 * ```
 */
export interface PolicyRegistry {
  /** Checks later policies of `topology.name` against it (replaces an earlier one of that name). */
  register(topology: AnyTopology): void;
  /**
   * Makes a (schema-valid) policy its target's current version. Refused with issues, the
   * current version staying: a document that does not fit the registered topology (paths
   * under `document`), a version below the current (`stale_version`), or the current version
   * number with another document (`version_conflict`). The current version again with the
   * same document is `{ ok: true, duplicate: true }` (a redelivery).
   */
  apply(policy: PolicyVersion): PolicyOutcome;
  /** The target's current version, if any. */
  current(target: string): PolicyVersion | undefined;
  /** The target's recent versions, oldest first, current last (at most `historySize`). */
  history(target: string): readonly PolicyVersion[];
  /**
   * Makes an earlier document current again, as a NEW version (current + 1, reason
   * `rollback to vN`). `toVersion` defaults to the version before the current; 0 (or the
   * default when there is only one version) is the topology's own definition (an empty
   * document). Issues: `no_policy`, `unknown_version` (never applied, or no longer kept),
   * `already_current`, or the old document no longer fitting the topology.
   */
  rollback(target: string, toVersion?: number): PolicyOutcome;
  /** Every target's current version, by target name. */
  list(): readonly PolicyVersion[];
}

/**
 * A registry of policy versions. Throws a ValidationError (`OPTIONS_INVALID`) for bad options.
 *
 * @example
 * ```ts
 * const registry = createPolicyRegistry({ topologies: [qa] });
 * const r = registry.apply(update);
 * if (!r.ok) deadLetter(update, r.issues);
 * registry.rollback('qa'); // back to the version before, as version current + 1
 * ```
 */
export function createPolicyRegistry(options: PolicyRegistryOptions = {}): PolicyRegistry {
  const o = parseOptions(OptionsSchema, options, 'policy registry options');
  const historySize = o.historySize ?? 50;
  const now = o.now ?? Date.now;
  const topologies = new Map<string, AnyTopology>();
  for (const t of o.topologies ?? []) topologies.set(t.name, t);
  const versions = new Map<string, PolicyVersion[]>();

  const refused = (issues: readonly Issue[]): PolicyOutcome => ({ ok: false, issues });
  const fits = (target: string, doc: PolicyDocument): Issue[] => {
    const t = topologies.get(target);
    return t === undefined ? [] : checkPolicyAgainst(t, doc).map((i) => ({ ...i, path: ['document', ...i.path] }));
  };
  const install = (p: PolicyVersion): PolicyOutcome => {
    let list = versions.get(p.target);
    if (list === undefined) versions.set(p.target, (list = []));
    list.push(p);
    if (list.length > historySize) list.splice(0, list.length - historySize);
    return { ok: true, policy: p, duplicate: false };
  };

  return {
    register(topology) {
      topologies.set(topology.name, topology);
    },
    apply(p) {
      const cur = versions.get(p.target)?.at(-1);
      if (cur !== undefined && p.version <= cur.version) {
        if (p.version < cur.version) {
          return refused([{ code: 'stale_version', path: ['version'], message: `version ${p.version} of '${p.target}' is older than the current version ${cur.version}` }]);
        }
        if (isDeepStrictEqual(p.document, cur.document)) return { ok: true, policy: cur, duplicate: true };
        return refused([{ code: 'version_conflict', path: ['version'], message: `version ${p.version} of '${p.target}' is current with another document: give a new version number` }]);
      }
      const issues = fits(p.target, p.document);
      return issues.length > 0 ? refused(issues) : install(p);
    },
    current: (target) => versions.get(target)?.at(-1),
    history: (target) => [...(versions.get(target) ?? [])],
    rollback(target, toVersion) {
      const list = versions.get(target);
      const cur = list?.at(-1);
      if (list === undefined || cur === undefined) return refused([{ code: 'no_policy', path: ['target'], message: `'${target}' has no policy to roll back` }]);
      const to = toVersion ?? (list.length > 1 ? list[list.length - 2]!.version : 0);
      if (to === cur.version) return refused([{ code: 'already_current', path: ['toVersion'], message: `version ${to} of '${target}' is the current one` }]);
      const old = to === 0 ? undefined : list.find((p) => p.version === to);
      if (to !== 0 && old === undefined) {
        return refused([{ code: 'unknown_version', path: ['toVersion'], message: `'${target}' has no version ${to} (kept: ${list.map((p) => p.version).join(', ')}; 0 is the topology's own definition)` }]);
      }
      const document = old?.document ?? {};
      const issues = fits(target, document);
      if (issues.length > 0) return refused(issues);
      return install({ target, version: cur.version + 1, policyId: old?.policyId ?? cur.policyId, document, reason: `rollback to v${to}`, ts: now() });
    },
    list: () => [...versions.values()].map((l) => l.at(-1)!).sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)),
  };
}
