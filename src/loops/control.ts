/**
 * Live control of a loop: policy updates applied (or refused) as new versions, rollbacks,
 * canaries of new versions against the previous one, and explicit recovery of paused
 * variants and open quality breakers.
 * @module
 */
import type { Issue } from '../errors.ts';
import type { PolicyUpdateMessage } from '../transports/messages.ts';
import { canaryRule, createCanary } from './canary.ts';
import { createRegressionTest } from './regression.ts';
import { policyFromMessage } from './policy.ts';
import type { RunInfo } from './join.ts';
import { invalidate, topologyState, type LoopContext, type TopologyState } from './state.ts';
import type { PolicyOutcome, PolicyVersion } from './types.ts';

/** Clears a topology's paused variants, open breakers and regression tests (a new policy version is explicit recovery). */
function clearRecoverable(ctx: LoopContext, st: TopologyState, reason: string): void {
  const ts = ctx.settings.now();
  for (const variant of st.paused) ctx.emit({ type: 'variant.state', ts, topology: st.name, variant, state: 'active', reason });
  for (const model of st.breakers) ctx.emit({ type: 'variant.state', ts, topology: st.name, model, state: 'breaker_closed', reason });
  st.paused.clear();
  st.breakers.clear();
  st.tests.clear();
  invalidate(st);
}

/** Ends a topology's canary (if any) without touching versions. */
function endCanary(st: TopologyState): void {
  st.canary = undefined;
  invalidate(st);
}

/**
 * A new version became current: recovery, a canary against the previous version (or the
 * topology's own definition) if it asks for one, the event.
 */
function became(ctx: LoopContext, policy: PolicyVersion, previous: PolicyVersion | undefined, type: 'policy.applied' | 'policy.rolled_back'): void {
  const st = topologyState(ctx, policy.target);
  endCanary(st);
  clearRecoverable(ctx, st, `policy version ${policy.version}`);
  const ts = ctx.settings.now();
  const e = { type, ts, topology: policy.target, version: policy.version } as const;
  ctx.emit({ ...e, ...(previous === undefined ? {} : { previous: previous.version }), ...(policy.reason === null ? {} : { reason: policy.reason }) });
  const spec = policy.document.canary;
  if (type === 'policy.applied' && spec !== undefined) {
    const base = previous?.version ?? 0;
    const test = createRegressionTest(canaryRule(spec));
    const canary = createCanary({ spec, version: policy.version, baseline: base, test, now: ctx.settings.now });
    const s = canary.last;
    ctx.emit({ type: 'canary.step', ts, topology: policy.target, version: policy.version, baseline: base, phase: s.phase, percent: s.percent, ...(s.reason === undefined ? {} : { reason: s.reason }) });
    if (!canary.done) st.canary = { canary, test, baseline: previous, candidate: policy, salt: `${policy.target}#canary#${policy.version}` };
  }
}

const rejected = (ctx: LoopContext, target: string, version: number, issues: readonly Issue[]): PolicyOutcome => {
  ctx.emit({ type: 'policy.rejected', ts: ctx.settings.now(), topology: target, version, reason: issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
  return { ok: false, issues };
};

/**
 * Validates a policy update (its document, and against the topology when the loop knows it:
 * the registry checks) and makes it the target's current version; a refused update leaves the current version
 * and emits `policy.rejected`. Never throws.
 *
 * @example
 * ```ts
 * const r = applyPolicyUpdate(ctx, update);
 * ```
 */
export function applyPolicyUpdate(ctx: LoopContext, update: PolicyUpdateMessage): PolicyOutcome {
  const target = typeof update?.target === 'string' ? update.target : '';
  const version = typeof update?.version === 'number' ? update.version : 0;
  try {
    const parsed = policyFromMessage(update);
    if (!parsed.ok) return rejected(ctx, target, version, parsed.issues);
    const previous = ctx.registry.current(parsed.policy.target);
    const r = ctx.registry.apply(parsed.policy);
    if (!r.ok) return rejected(ctx, target, version, r.issues);
    if (!r.duplicate) became(ctx, r.policy, previous, 'policy.applied');
    return r;
  } catch (e) {
    return rejected(ctx, target, version, [{ code: 'policy_failed', path: [], message: e instanceof Error ? e.message : String(e) }]);
  }
}

/**
 * Rolls a target back to an earlier version (default: the one before the current), as a new
 * version; emits `policy.rolled_back`. Never throws.
 *
 * @example
 * ```ts
 * rollbackPolicy(ctx, 'qa', 3);
 * ```
 */
export function rollbackPolicy(ctx: LoopContext, target: string, toVersion?: number): PolicyOutcome {
  try {
    const previous = ctx.registry.current(target);
    const r = ctx.registry.rollback(target, toVersion);
    if (!r.ok) return rejected(ctx, target, toVersion ?? 0, r.issues);
    became(ctx, r.policy, previous, 'policy.rolled_back');
    return r;
  } catch (e) {
    return rejected(ctx, target, toVersion ?? 0, [{ code: 'policy_failed', path: [], message: e instanceof Error ? e.message : String(e) }]);
  }
}

/**
 * Feeds the topology's canary with one score of a run under its baseline or candidate
 * version; steps are reported, a promotion ends the canary, a regression rolls back.
 *
 * @example
 * ```ts
 * observeCanary(ctx, st, info, 'correct', 1);
 * ```
 */
export function observeCanary(ctx: LoopContext, st: TopologyState, info: RunInfo, metric: string, score: number): void {
  const c = st.canary;
  if (c === undefined || metric !== c.candidate.document.canary?.metric) return;
  const step = c.canary.observe(info.policyVersion, score);
  if (step === undefined) return;
  const ts = ctx.settings.now();
  const e = { type: 'canary.step', ts, topology: st.name, version: step.version, baseline: step.baseline, phase: step.phase, percent: step.percent } as const;
  if (step.phase === 'rolled_back') {
    const t = c.test.treatment;
    const k = c.test.control;
    ctx.emit({
      type: 'quality.regression', ts, topology: st.name, variant: `v${c.candidate.version}`, control: `v${c.canary.baseline}`, metric, action: 'rollback',
      mean: t.mean, controlMean: k.mean, count: t.count, controlCount: k.count,
    });
  }
  ctx.emit(step.reason === undefined ? e : { ...e, reason: step.reason });
  if (step.phase === 'promoted') endCanary(st);
  else if (step.phase === 'rolled_back') {
    endCanary(st);
    rollbackPolicy(ctx, st.name, c.canary.baseline);
  }
}

/**
 * Explicit recovery: resumes a paused variant and/or closes a model's quality breaker
 * (both when neither is named). Returns whether anything changed.
 *
 * @example
 * ```ts
 * resumeTopology(ctx, 'qa', { variant: 'b' });
 * ```
 */
export function resumeTopology(ctx: LoopContext, target: string, what: { readonly variant?: string | undefined; readonly model?: string | undefined } = {}): boolean {
  const st = ctx.topologies.get(target);
  if (st === undefined) return false;
  const ts = ctx.settings.now();
  const all = what.variant === undefined && what.model === undefined;
  let changed = false;
  for (const variant of [...st.paused]) {
    if (!all && variant !== what.variant) continue;
    st.paused.delete(variant);
    for (const [k, t] of st.tests) if (t.variant === variant) st.tests.delete(k);
    ctx.emit({ type: 'variant.state', ts, topology: target, variant, state: 'active', reason: 'resumed' });
    changed = true;
  }
  for (const model of [...st.breakers]) {
    if (!all && model !== what.model) continue;
    st.breakers.delete(model);
    for (const [k, t] of st.tests) if (t.model === model) st.tests.delete(k);
    ctx.emit({ type: 'variant.state', ts, topology: target, model, state: 'breaker_closed', reason: 'resumed' });
    changed = true;
  }
  if (changed) invalidate(st);
  return changed;
}
