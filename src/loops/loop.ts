/**
 * `createLoop`: the parts of a feedback loop composed into the engine's `RunLoop`.
 * Decisions come from precompiled plans (decide.ts); ended runs are remembered for joining
 * feedback (join.ts) and, when sampled, sent out as evaluation requests (requests.ts);
 * feedback updates statistics, regression tests, canaries and bandits (feedback.ts);
 * policies apply live (control.ts).
 * @module
 */
import { Subject, type Observable } from 'rxjs';
import * as z from 'zod';
import type { AnyTopology } from '../definition/types.ts';
import { ValidationError, toIssues } from '../errors.ts';
import type { DecisionRequest, LoopEvent, LoopHost, RunDecision, RunSummary, StatRow } from '../runtime/loop.ts';
import type { EvaluationRequestMessage, ExperienceMessage, FeedbackMessage, PolicyUpdateMessage } from '../transports/messages.ts';
import { createRandom } from '../primitives/random.ts';
import { applyPolicyUpdate, observeCanary, resumeTopology, rollbackPolicy } from './control.ts';
import { decideWith, stickyKey } from './decide.ts';
import { bucketOf } from './experiments.ts';
import { applyScore, checkFeedback } from './feedback.ts';
import { BoundedSet, RunCache, RunInfoSchema, runInfoOf, type RunInfo } from './join.ts';
import { EvaluationPolicySchema, parsePolicyDocument } from './policy.ts';
import { RegressionRuleSchema } from './regression.ts';
import { createPolicyRegistry } from './policy-registry.ts';
import { evaluationRequests } from './requests.ts';
import { createStatsBook } from './stats.ts';
import { baselinePlanOf, planOf, topologyState, type LoopContext } from './state.ts';
import type { ArmState, FeedbackCounters, FeedbackLoop, FeedbackOutcome, PolicyOutcome, PolicyVersion, RegressionRule } from './types.ts';

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', `expected ${what}`);
const isTopology = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && Array.isArray((v as { nodes?: unknown }).nodes);


/**
 * Schema of {@link LoopOptions}.
 *
 * @example
 * ```ts
 * LoopOptionsSchema.parse({ seed: 7, evaluation: { sampleRate: 0.1 } });
 * ```
 */
export const LoopOptionsSchema = z.strictObject({
  topologies: z.array(z.custom<AnyTopology>(isTopology, 'expected a topology (topology(...).build())')).optional(),
  policies: z.array(z.custom<PolicyVersion>((v) => typeof v === 'object' && v !== null, 'expected a policy version')).optional(),
  evaluation: EvaluationPolicySchema.optional(),
  regression: z.array(RegressionRuleSchema).optional(),
  windowSize: z.number().int().positive().optional(),
  joinCapacity: z.number().int().positive().optional(),
  lateAfterMs: z.number().nonnegative().optional(),
  seed: z.number().int().optional(),
  now: fn<() => number>('a clock function () => epoch ms').optional(),
  lookup: fn<(runId: string) => Promise<RunInfo | undefined>>('a function (runId) => Promise<RunInfo | undefined>').optional(),
});

/**
 * Options of {@link createLoop}.
 *
 * @example
 * ```ts
 * const o: LoopOptions = { topologies: [qa], seed: 7, evaluation: { sampleRate: 0.2 }, regression: [{ metric: 'correct', action: 'pause' }] };
 * ```
 */
export interface LoopOptions {
  /** Topologies whose policies are checked against them on apply (others are learned from their first run). */
  readonly topologies?: readonly AnyTopology[];
  /** Policy versions current at start (e.g. read back from the compacted policy topic). */
  readonly policies?: readonly PolicyVersion[];
  /** Share of runs sent for evaluation (default 1) and llm nodes evaluated on their own; a policy's `evaluation` wins. */
  readonly evaluation?: { readonly sampleRate: number; readonly nodes?: readonly string[] };
  /** Regression rules of experiments whose policy has none. */
  readonly regression?: readonly RegressionRule[];
  /** Scores in each statistic's window. Default 500. */
  readonly windowSize?: number;
  /** Ended runs kept for joining feedback (oldest forgotten first); also the feedback ids kept for dedupe. Default 100,000. */
  readonly joinCapacity?: number;
  /** Feedback this long after its run ended counts as `late` (and still counts). Default 24 h. */
  readonly lateAfterMs?: number;
  /** Seed of bandits and evaluation sampling. Default 1. */
  readonly seed?: number;
  /** Clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
  /** Finds a run the loop does not remember (e.g. in a run store); used by `feedbackAsync` only. */
  readonly lookup?: (runId: string) => Promise<RunInfo | undefined>;
}

/**
 * A loop made by {@link createLoop}: a {@link FeedbackLoop} plus explicit recovery and an
 * asynchronous join for runs it does not remember.
 *
 * @example
 * ```ts
 * const loop = createLoop({ seed: 7 });
 * loop.resume('qa', { variant: 'b' });
 * ```
 */
export interface Loop extends FeedbackLoop {
  /**
   * Like `feedback`, but a run the loop does not remember is looked up with the `lookup`
   * option first (then joined, or counted `unknown_run`). Never rejects.
   */
  feedbackAsync(message: FeedbackMessage): Promise<FeedbackOutcome>;
  /** Resumes a paused variant and/or closes a model's quality breaker (both when neither is named); whether anything changed. */
  resume(target: string, what?: { readonly variant?: string; readonly model?: string }): boolean;
}

type Counts = { received: number } & Record<FeedbackOutcome, number>;

/**
 * Creates a feedback loop for `createEngine({ loop })`: decides each run's variant, policy
 * version, node settings and bandit arms; sends evaluation requests of sampled runs on
 * `evaluations$`; joins feedback to runs (statistics, regression detection, canaries, bandit
 * rewards with records on `experience$`); applies policy updates live. Throws
 * {@link ValidationError} (`OPTIONS_INVALID`) on bad options; nothing else throws.
 *
 * `feedback(msg)` is synchronous and joins with the runs in memory only; `feedbackAsync(msg)`
 * also asks `lookup` for others (e.g. after a restart, from the run store).
 *
 * @example
 * ```ts
 * const loop = createLoop({ topologies: [qa], seed: 7 });
 * const engine = createEngine({ loop });
 * loop.evaluations$.subscribe((req) => loop.feedback(judge(req)));
 * loop.applyPolicy({ policyId: 'opt-1', version: 1, target: 'qa', params: { nodes: '{"answer":{"model":"sim:fast"}}' }, reason: null, ts: Date.now() });
 * ```
 */
export function createLoop(options: LoopOptions = {}): Loop {
  const parsed = LoopOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createLoop options are invalid', toIssues(parsed.error.issues, ['options']));
  const o = parsed.data;
  const now = o.now ?? Date.now;
  const seed = o.seed ?? 1;
  const random = createRandom(seed);
  const next = (): number => random.next();
  const events$ = new Subject<LoopEvent>();
  const evaluations$ = new Subject<EvaluationRequestMessage>();
  const experience$ = new Subject<ExperienceMessage>();
  let host: LoopHost | undefined;
  const ctx: LoopContext = {
    settings: {
      sampleRate: o.evaluation?.sampleRate ?? 1,
      evaluationNodes: o.evaluation?.nodes,
      regression: o.regression ?? [],
      seed,
      lateAfterMs: o.lateAfterMs ?? 86_400_000,
      now,
    },
    registry: createPolicyRegistry({ topologies: o.topologies ?? [], now }),
    book: createStatsBook({ windowSize: o.windowSize ?? 500 }),
    topologies: new Map(),
    bandits: new Map(),
    versionBandits: new Map(),
    emit: (e) => {
      if (events$.observed) events$.next(e);
      host?.emit(e);
    },
  };
  for (const t of o.topologies ?? []) topologyState(ctx, t.name).topology = t;
  (o.policies ?? []).forEach((p, i) => {
    const doc = parsePolicyDocument(p.document);
    const r = doc.ok ? ctx.registry.apply({ ...p, document: doc.value }) : { ok: false as const, issues: doc.issues.map((x) => ({ ...x, path: ['document', ...x.path] })) };
    if (!r.ok) throw new ValidationError('OPTIONS_INVALID', 'createLoop options are invalid', r.issues.map((x) => ({ ...x, path: ['options', 'policies', i, ...x.path] })));
  });
  const capacity = o.joinCapacity ?? 100_000;
  const runs = new RunCache(capacity);
  const seen = new BoundedSet<string>(capacity);
  const counts: Counts = { received: 0, joined: 0, late: 0, duplicate: 0, unknown_run: 0, invalid: 0 };
  const experience = (x: ExperienceMessage): void => experience$.next(x);

  const reject = (msg: Partial<FeedbackMessage> | undefined, reason: 'duplicate' | 'unknown_run' | 'invalid', detail?: string): FeedbackOutcome => {
    counts[reason]++;
    const m = (typeof msg === 'object' && msg !== null ? msg : {}) as Partial<Record<keyof FeedbackMessage, unknown>>;
    ctx.emit({
      type: 'feedback.rejected', ts: now(), topology: typeof m.topology === 'string' ? m.topology : '',
      feedbackId: typeof m.feedbackId === 'string' ? m.feedbackId : '', runId: typeof m.runId === 'string' ? m.runId : null, reason,
      ...(detail === undefined ? {} : { detail }),
    });
    return reason;
  };

  /** Validation and dedupe; the run info when the message can be joined, else its outcome. */
  const admit = (msg: FeedbackMessage): { info: RunInfo | undefined; fb: ReturnType<typeof checkFeedback> & { ok: true } } | FeedbackOutcome => {
    counts.received++;
    const r = checkFeedback(msg);
    if (!r.ok) return reject(msg, 'invalid', r.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    if (seen.has(r.value.feedbackId)) return reject(msg, 'duplicate');
    return { info: runs.get(r.value.runId), fb: r };
  };

  /** Counts a joined score (once it was applied: a score that failed to apply is counted `invalid` by the caller). */
  const join = (info: RunInfo, fb: ReturnType<typeof checkFeedback> & { ok: true }): FeedbackOutcome => {
    const outcome: FeedbackOutcome = now() - info.endedAt > ctx.settings.lateAfterMs ? 'late' : 'joined';
    applyScore(ctx, info, fb.value, experience, (st, i, metric, score) => observeCanary(ctx, st, i, metric, score));
    seen.add(fb.value.feedbackId);
    counts[outcome]++;
    return outcome;
  };

  const loop: Loop = {
    decide(req: DecisionRequest): RunDecision | undefined {
      const st = ctx.topologies.get(req.topology.name) ?? topologyState(ctx, req.topology.name);
      let plan = st.plan !== undefined && st.topology === req.topology ? st.plan : planOf(ctx, st, req.topology)!;
      const c = st.canary;
      if (c !== undefined && c.canary.pick(bucketOf(stickyKey(plan, req), c.salt)) !== plan.version) plan = baselinePlanOf(ctx, st, c) ?? plan;
      return decideWith(plan, req, next);
    },

    ended(summary: RunSummary): void {
      const info = runInfoOf(summary);
      runs.add(info);
      if (summary.decision?.evaluate !== true || !evaluations$.observed) return;
      const st = ctx.topologies.get(summary.topology);
      const version = summary.decision.policyVersion ?? 0;
      const plan = st === undefined ? undefined
        : st.plan?.version === version ? st.plan
        : st.baselinePlan?.version === version ? st.baselinePlan
        : st.canary !== undefined && st.canary.canary.baseline === version ? baselinePlanOf(ctx, st, st.canary) : planOf(ctx, st);
      const nodes = plan?.version === version ? plan.evaluationNodes : ctx.settings.evaluationNodes;
      for (const req of evaluationRequests(summary, nodes, plan?.promptVersion ?? null, now())) evaluations$.next(req);
    },

    stats: (): readonly StatRow[] => ctx.book.rows(),

    attach(h: LoopHost): void {
      host = h;
    },

    feedback(message: FeedbackMessage): FeedbackOutcome {
      try {
        const a = admit(message);
        if (typeof a === 'string') return a;
        if (a.info === undefined) return reject(message, 'unknown_run');
        return join(a.info, a.fb);
      } catch (e) {
        return reject(message, 'invalid', e instanceof Error ? e.message : String(e));
      }
    },

    async feedbackAsync(message: FeedbackMessage): Promise<FeedbackOutcome> {
      try {
        const a = admit(message);
        if (typeof a === 'string') return a;
        let info = a.info;
        if (info === undefined && o.lookup !== undefined) {
          const found = RunInfoSchema.safeParse(await o.lookup(a.fb.value.runId));
          if (found.success) {
            info = found.data as RunInfo;
            runs.add(info);
          }
          if (seen.has(a.fb.value.feedbackId)) return reject(message, 'duplicate');
        }
        if (info === undefined) return reject(message, 'unknown_run');
        return join(info, a.fb);
      } catch (e) {
        return reject(message, 'unknown_run', e instanceof Error ? e.message : String(e));
      }
    },

    applyPolicy: (update: PolicyUpdateMessage): PolicyOutcome => applyPolicyUpdate(ctx, update),
    rollback: (target: string, toVersion?: number): PolicyOutcome => rollbackPolicy(ctx, target, toVersion),
    resume: (target, what) => resumeTopology(ctx, target, what),
    policies: (target?: string): readonly PolicyVersion[] => {
      if (target !== undefined) {
        const p = ctx.registry.current(target);
        return p === undefined ? [] : [p];
      }
      return ctx.registry.list();
    },
    counters: (): FeedbackCounters => ({ ...counts }),
    bandits() {
      const out: { topology: string; decision: string; arms: readonly ArmState[] }[] = [];
      for (const b of ctx.bandits.values()) out.push({ topology: b.topology, decision: b.node, arms: b.bandit.state() });
      return out;
    },
    evaluations$: evaluations$.asObservable() as Observable<EvaluationRequestMessage>,
    experience$: experience$.asObservable() as Observable<ExperienceMessage>,
    events$: events$.asObservable() as Observable<LoopEvent>,
  };
  return loop;
}
