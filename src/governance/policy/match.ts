/**
 * Rule matching, compiled once per rule set: each field's globs become one predicate (an
 * equality for a plain name, an anchored regular expression for a glob; `*` is the only
 * wildcard), and a rule's fields one conjunction.
 *
 * @example
 * ```ts
 * const m = compileMatch({ tenant: ['free', 'trial-*'], model: 'openai:*' });
 * m({ tenant: 'trial-7', model: 'openai:gpt-4o' }); // true
 * ```
 * @module
 */
import type { PolicyMatch } from './schema.ts';

/**
 * The fields a rule's match reads (what a run, call or tool check carries).
 *
 * @example
 * ```ts
 * const s: MatchSubject = { tenant: 'acme', topology: 'rag', nodeId: 'answer', model: 'openai:gpt-4o' };
 * ```
 */
export interface MatchSubject {
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
  readonly project?: string | undefined;
  readonly topology?: string | undefined;
  readonly nodeId?: string | undefined;
  readonly model?: string | undefined;
  /** A tool check's tool name. */
  readonly tool?: string | undefined;
}

const ESCAPE = /[.+?^${}()|[\]\\]/g;

/**
 * One predicate for a glob or a list of them; `*` matches any run of characters (an empty one
 * too), everything else itself. A subject without the field matches only `*`.
 *
 * @example
 * ```ts
 * globMatcher(['gpt-4o*', 'o3'])('gpt-4o-mini'); // true
 * ```
 */
export function globMatcher(globs: string | readonly string[]): (value: string | undefined) => boolean {
  const list = typeof globs === 'string' ? [globs] : globs;
  if (list.includes('*')) return () => true;
  const exact = new Set(list.filter((g) => !g.includes('*')));
  const wild = list.filter((g) => g.includes('*'));
  if (wild.length === 0) return exact.size === 1 ? ((only) => (v) => v === only)(list[0]) : (v) => v !== undefined && exact.has(v);
  const re = new RegExp(`^(?:${wild.map((g) => g.replace(ESCAPE, '\\$&').replace(/\*+/g, '.*')).join('|')})$`, 's');
  return (v) => v !== undefined && (exact.has(v) || re.test(v));
}

/**
 * One predicate for a rule's match (its data classes apart: they need a scan, see the evaluator).
 * Undefined when the rule matches every subject.
 *
 * @example
 * ```ts
 * compileMatch(undefined); // undefined: matches everything
 * ```
 */
export function compileMatch(match: PolicyMatch | undefined): ((s: MatchSubject) => boolean) | undefined {
  if (match === undefined) return undefined;
  const tests: ((s: MatchSubject) => boolean)[] = [];
  const field = (globs: string | readonly string[] | undefined, get: (s: MatchSubject) => string | undefined): void => {
    if (globs === undefined) return;
    const m = globMatcher(globs);
    tests.push((s) => m(get(s)));
  };
  field(match.tenant, (s) => s.tenant);
  field(match.user, (s) => s.user);
  field(match.project, (s) => s.project);
  field(match.topology, (s) => s.topology);
  field(match.node, (s) => s.nodeId);
  field(match.model, (s) => s.model);
  field(match.tool, (s) => s.tool);
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (s) => {
    for (const t of tests) if (!t(s)) return false;
    return true;
  };
}
