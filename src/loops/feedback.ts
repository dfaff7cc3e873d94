/**
 * What a joined feedback score does: it is added to the rolling statistics, observed by
 * the regression tests of the run's experiment (a regression pauses the variant, opens a
 * quality breaker on its model, or only alerts), by the canary of the run's topology (which
 * grows, is promoted or is rolled back), and rewards the bandits the run used (an
 * experience record per bandit).
 * @module
 */
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import type { QualityRegressionEvent } from '../runtime/loop.ts';
import type { ExperienceMessage } from '../transports/messages.ts';
import { jsonText } from './requests.ts';
import { modelOf, type RunInfo } from './join.ts';
import { createRegressionTest } from './regression.ts';
import { invalidate, planOf, topologyState, type LoopContext, type TopologyState, type VariantTest } from './state.ts';
import type { RegressionRule, RegressionVerdict } from './types.ts';

/**
 * The checks a feedback message must pass to be counted: an id, a run id, a metric and a
 * finite score (the topology is taken from the run it joins).
 *
 * @example
 * ```ts
 * FeedbackInSchema.safeParse({ feedbackId: 'f1', runId: 'r1', metric: 'correct', score: 1 }).success; // true
 * ```
 */
export const FeedbackInSchema = z.object({
  feedbackId: z.string().min(1),
  runId: z.string().min(1),
  metric: z.string().min(1),
  score: z.number().finite(),
  nodeId: z.string().min(1).nullable().optional(),
  model: z.string().nullable().optional(),
  topology: z.string().optional(),
}).loose();

/**
 * A validated feedback message.
 *
 * @example
 * ```ts
 * const r = checkFeedback(msg);
 * if (r.ok) { const f: FeedbackIn = r.value; console.log(f.metric, f.score); }
 * ```
 */
export type FeedbackIn = z.infer<typeof FeedbackInSchema>;

/**
 * Checks a feedback message; the issues name the bad fields.
 *
 * @example
 * ```ts
 * const r = checkFeedback(msg);
 * if (!r.ok) console.log(r.issues);
 * ```
 */
export function checkFeedback(msg: unknown): { ok: true; value: FeedbackIn } | { ok: false; issues: Issue[] } {
  const r = FeedbackInSchema.safeParse(msg);
  return r.success ? { ok: true, value: r.data } : { ok: false, issues: toIssues(r.error.issues, ['feedback']) };
}

const DEFAULTS = { minSamples: 30 };

function variantTest(st: TopologyState, variant: string, rule: RegressionRule): VariantTest {
  const key = `${variant}\0${rule.metric}`;
  let t = st.tests.get(key);
  if (t === undefined) {
    t = { variant, test: createRegressionTest(rule), model: '', fired: false };
    st.tests.set(key, t);
  }
  return t;
}

/** Applies a regression's action and reports it. */
function regressed(ctx: LoopContext, st: TopologyState, control: string, t: VariantTest, rule: RegressionRule, v: RegressionVerdict & { regressed: true }): void {
  t.fired = true;
  let action = rule.action ?? 'alert';
  if (action === 'breaker' && t.model === '') action = 'pause';
  const ts = ctx.settings.now();
  const e: { -readonly [K in keyof QualityRegressionEvent]: QualityRegressionEvent[K] } = {
    type: 'quality.regression', ts, topology: st.name, variant: t.variant, control, metric: rule.metric, action,
    mean: v.mean, controlMean: v.controlMean, count: v.count, controlCount: v.controlCount,
  };
  if (action === 'breaker') e.model = t.model;
  ctx.emit(e);
  const reason = `${rule.metric}: ${v.mean.toFixed(4)} vs control ${v.controlMean.toFixed(4)} (${v.count} vs ${v.controlCount} scores)`;
  if (action === 'pause' && !st.paused.has(t.variant)) {
    st.paused.add(t.variant);
    invalidate(st);
    ctx.emit({ type: 'variant.state', ts, topology: st.name, variant: t.variant, state: 'paused', reason });
  } else if (action === 'breaker' && !st.breakers.has(t.model)) {
    st.breakers.add(t.model);
    invalidate(st);
    ctx.emit({ type: 'variant.state', ts, topology: st.name, variant: t.variant, model: t.model, state: 'breaker_open', reason });
  }
}

/** Feeds the experiment's regression tests (variant vs control) with one score. */
function observeExperiment(ctx: LoopContext, st: TopologyState, info: RunInfo, metric: string, score: number, model: string): void {
  if (info.variant === '') return;
  const plan = planOf(ctx, st);
  if (plan === undefined || plan.control === undefined) return;
  const rules = plan.policy?.document.regression ?? ctx.settings.regression;
  for (const rule of rules) {
    if (rule.metric !== metric) continue;
    const r: RegressionRule = { ...DEFAULTS, ...rule };
    if (info.variant === plan.control) {
      for (const v of plan.variants) {
        if (v === plan.control) continue;
        const t = variantTest(st, v, r);
        const verdict = t.test.observe('control', score);
        if (verdict.regressed && !t.fired) regressed(ctx, st, plan.control, t, r, verdict);
      }
    } else if (plan.variants.includes(info.variant)) {
      const t = variantTest(st, info.variant, r);
      if (model !== '') t.model = model;
      const verdict = t.test.observe('treatment', score);
      if (verdict.regressed && !t.fired) regressed(ctx, st, plan.control, t, r, verdict);
    }
  }
}

/** Rewards the bandits the run used (for feedback on their metric) and records the experience. */
function reward(ctx: LoopContext, info: RunInfo, fb: FeedbackIn, out: (x: ExperienceMessage) => void): void {
  const byNode = ctx.versionBandits.get(`${info.topology}\0${info.policyVersion}`);
  if (byNode === undefined) return;
  const { metric, score } = fb;
  for (const decision in info.arms) {
    // feedback on one node rewards that node's bandit only
    if (fb.nodeId && fb.nodeId !== decision) continue;
    const slot = byNode.get(decision);
    if (slot === undefined || slot.policy.metric !== metric) continue;
    const arm = info.arms[decision]!;
    if (!(arm in slot.policy.arms)) continue;
    const r = score - (slot.policy.costWeight ?? 0) * info.costUsd;
    if (!Number.isFinite(r)) continue;
    slot.bandit.update(arm, r);
    out({
      runId: info.runId,
      topology: info.topology,
      decision,
      arm,
      context: jsonText({ variant: info.variant, policyVersion: info.policyVersion, tenant: info.tenant, user: info.user, input: info.input }),
      metric,
      quality: score,
      costUsd: info.costUsd,
      reward: r,
      ts: ctx.settings.now(),
    });
  }
}

/**
 * Everything a joined score does: statistics, regression tests, the canary, bandits.
 * Returns the model the score was counted for.
 *
 * @example
 * ```ts
 * applyScore(ctx, info, feedback, (x) => experience$.next(x), (st, info, metric, score) => observeCanary(...));
 * ```
 */
export function applyScore(
  ctx: LoopContext,
  info: RunInfo,
  fb: FeedbackIn,
  experience: (x: ExperienceMessage) => void,
  canary: (st: TopologyState, info: RunInfo, metric: string, score: number) => void,
): string {
  const model = modelOf(info, fb.nodeId) || (fb.model ?? '');
  const key = { topology: info.topology, variant: info.variant, model, metric: fb.metric };
  ctx.book.add(key, fb.score);
  const s = ctx.book.get(key)!;
  ctx.emit({
    type: 'stats.updated', ts: ctx.settings.now(), ...key,
    count: s.all.count, mean: s.all.mean, variance: s.all.variance, window: { count: s.window.count, mean: s.window.mean, variance: s.window.variance },
  });
  const st = topologyState(ctx, info.topology);
  observeExperiment(ctx, st, info, fb.metric, fb.score, model);
  if (st.canary !== undefined) canary(st, info, fb.metric, fb.score);
  reward(ctx, info, fb, experience);
  return model;
}
