/**
 * A parsed policy document compiled into one immutable rule set: rules split by stage with
 * their match predicates, data-class sets and static outcomes, tenant weights, and per stage a
 * PII scanner limited to the data classes that stage's rules name. A guard swaps whole rule sets, so a
 * check that started on one set finishes on it.
 *
 * @example
 * ```ts
 * const set = compileRules(parsePolicyRules(text), { version: 3, detectors, hashKey });
 * set.call.length; // call-stage rules, in document order
 * ```
 * @module
 */
import { ValidationError, type Issue } from '../../errors.ts';
import { createPiiRedactor } from '../pii/redact.ts';
import { createPiiScanner, defaultPiiDetectors, type PiiScanner } from '../pii/scan.ts';
import type { PiiDetector, PiiMatch } from '../pii/types.ts';
import type { PiiVault } from '../pii/vault.ts';
import { compileMatch, type MatchSubject } from './match.ts';
import type { CustomPolicyRule, PolicyDocument, PolicyOutcome, PolicyRule, PolicyStage } from './schema.ts';

/**
 * One compiled rule.
 *
 * @example
 * ```ts
 * const r: CompiledRule = { name: 'deny-all', stage: 'call', onError: 'closed', outcome: { action: 'deny' } };
 * ```
 */
export interface CompiledRule {
  readonly name: string;
  readonly stage: PolicyStage;
  readonly onError: 'closed' | 'open';
  /** The match's subject fields; undefined matches every subject. */
  readonly subject?: ((s: MatchSubject) => boolean) | undefined;
  /** Data classes of which the checked text must hold one. */
  readonly dataClass?: ReadonlySet<string> | undefined;
  /** A document rule's outcome. */
  readonly outcome?: PolicyOutcome | undefined;
  /** A document redact rule's kinds (undefined: every kind). */
  readonly redactKinds?: ReadonlySet<string> | undefined;
  /** A TypeScript rule's check. */
  readonly check?: CustomPolicyRule['check'] | undefined;
  readonly message?: string | undefined;
}

/**
 * A compiled rule set (one document version).
 *
 * @example
 * ```ts
 * if (set.call.length === 0 && set.output.length === 0) return ALLOW;
 * ```
 */
export interface RuleSet {
  readonly version: number;
  readonly run: readonly CompiledRule[];
  readonly call: readonly CompiledRule[];
  readonly output: readonly CompiledRule[];
  /** Whether every output rule matches every call (no subject fields): a call's watch then takes `output` as it is. */
  readonly outputForAll: boolean;
  readonly tool: readonly CompiledRule[];
  readonly weights: ReadonlyMap<string, number>;
  /**
   * Per stage, a scanner for the data classes that stage's rules use (undefined when none of
   * them needs a scan): an answer checked only for API keys is not also scanned for phone numbers.
   */
  readonly scanners: Readonly<Record<PolicyStage, PiiScanner | undefined>>;
  /** Whether scans await (custom detectors may answer asynchronously). */
  readonly asyncScan: boolean;
  /** Whether a rule may redact with placeholders (runs then get a vault). */
  readonly placeholders: boolean;
}

/**
 * How redaction modes replace a finding: mask and hash through the pii module's redactor, placeholders through the run's vault.
 *
 * @example
 * ```ts
 * const r = createReplacers('a key of sixteen bytes or more');
 * r.replace('mask', match, undefined); // '****'
 * ```
 */
export interface Replacers {
  readonly hasHashKey: boolean;
  replace(mode: 'mask' | 'hash' | 'placeholder', m: PiiMatch, vault: PiiVault | undefined): string;
}

/**
 * Makes the {@link Replacers} of a guard: each mode's redactor made (and checked) once, fed one
 * finding at a time, so the texts are never scanned twice.
 *
 * @example
 * ```ts
 * const replacers = createReplacers(undefined); // hash mode then refused
 * ```
 */
export function createReplacers(hashKey: string | Uint8Array | undefined): Replacers {
  const mask = createPiiRedactor({ mode: 'mask' });
  const hash = hashKey === undefined ? undefined : createPiiRedactor({ mode: 'hash', key: hashKey });
  return {
    hasHashKey: hash !== undefined,
    replace(mode, m, vault) {
      if (mode === 'placeholder') {
        if (vault === undefined) throw new Error('placeholder redaction without a vault');
        return vault.placeholder(m.type, m.value);
      }
      const redactor = mode === 'mask' ? mask : hash;
      if (redactor === undefined) throw new Error("hash redaction needs the guard's hashKey option");
      return redactor.replace(m);
    },
  };
}

const set = (v: string | readonly string[] | undefined): ReadonlySet<string> | undefined => (v === undefined ? undefined : new Set(typeof v === 'string' ? [v] : v));

/**
 * Compiles a parsed document. Throws a `ValidationError` (`POLICY_INVALID`) for what only the
 * guard can know (a hash rule without the guard's hashKey).
 *
 * @example
 * ```ts
 * const set = compileRules(doc, { version: 1, detectors: [], replacers: createReplacers(undefined) });
 * ```
 */
export function compileRules(doc: PolicyDocument, o: { readonly version: number; readonly detectors: readonly PiiDetector[]; readonly replacers: Replacers }): RuleSet {
  const onErrorDefault = doc.defaults?.onError ?? 'closed';
  const byStage: Record<PolicyStage, CompiledRule[]> = { run: [], call: [], output: [], tool: [] };
  const issues: Issue[] = [];
  // per stage: the kinds its rules name (all when a rule may redact any kind), or undefined when none scans
  const needs: Record<PolicyStage, { kinds: Set<string>; all: boolean } | undefined> = { run: undefined, call: undefined, output: undefined, tool: undefined };
  let placeholders = false;
  doc.rules.forEach((rule, i) => {
    const stage: PolicyStage = rule.stage ?? 'call';
    const need = (): { kinds: Set<string>; all: boolean } => (needs[stage] ??= { kinds: new Set(), all: false });
    const dataClass = set(rule.match?.dataClass);
    if (dataClass !== undefined) for (const k of dataClass) need().kinds.add(k);
    const base = { name: rule.name, stage, onError: rule.onError ?? onErrorDefault, subject: compileMatch(rule.match), dataClass };
    if ('check' in rule) {
      if (stage !== 'run') {
        // a TypeScript rule may redact any kind in any mode
        need().all = true;
        placeholders ||= stage === 'call' || stage === 'tool';
      }
      byStage[stage].push({ ...base, check: rule.check });
      return;
    }
    const d = rule as PolicyRule;
    const compiled: { -readonly [K in keyof CompiledRule]: CompiledRule[K] } = { ...base, outcome: outcomeOf(d) };
    if (d.message !== undefined) compiled.message = d.message;
    if (d.redact !== undefined) {
      const rk = set(d.redact.kinds);
      if (rk === undefined) need().all = true;
      else for (const k of rk) need().kinds.add(k);
      compiled.redactKinds = rk;
      if (d.redact.mode === 'placeholder') placeholders = true;
      if (d.redact.mode === 'hash' && !o.replacers.hasHashKey) {
        issues.push({ code: 'missing_hash_key', path: ['rules', i, 'redact', 'mode'], message: "hash mode needs the guard's hashKey option (createPolicyGuard({ hashKey }))" });
      }
    }
    byStage[stage].push(compiled);
  });
  if (issues.length > 0) throw new ValidationError('POLICY_INVALID', 'policy document is invalid', issues);
  const detectors = [...defaultPiiDetectors(), ...o.detectors];
  // one scanner per distinct need (stages needing the same kinds share it)
  const made = new Map<string, PiiScanner>();
  const scannerFor = (n: { kinds: Set<string>; all: boolean } | undefined): PiiScanner | undefined => {
    if (n === undefined) return undefined;
    const types = n.all ? undefined : [...n.kinds].sort();
    const key = types === undefined ? '*' : types.join(',');
    let s = made.get(key);
    if (s === undefined) made.set(key, s = createPiiScanner(types === undefined ? { detectors } : { detectors, types }));
    return s;
  };
  const scanners = Object.freeze({ run: scannerFor(needs.run), call: scannerFor(needs.call), output: scannerFor(needs.output), tool: scannerFor(needs.tool) });
  const weights = new Map<string, number>();
  for (const [t, v] of Object.entries(doc.tenants ?? {})) if (v.weight !== undefined) weights.set(t, v.weight);
  const outputForAll = byStage.output.every((r) => r.subject === undefined);
  return Object.freeze({ version: o.version, ...byStage, outputForAll, weights, scanners, asyncScan: o.detectors.length > 0, placeholders });
}

function outcomeOf(d: PolicyRule): PolicyOutcome {
  switch (d.action) {
    case 'allow': return { action: 'allow' };
    case 'deny': return { action: 'deny' };
    case 'redact': return { action: 'redact', mode: d.redact!.mode };
    case 'route': return { action: 'route', model: d.route!.model };
    case 'approval': return { action: 'approval', name: d.approval!.name, timeoutMs: d.approval!.timeoutMs };
    case 'cap': return { action: 'cap', maxTokens: d.cap!.maxTokens };
  }
}
