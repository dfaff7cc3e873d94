/**
 * A run's decision, precomputed: for one topology under one policy version (and one set of
 * paused variants and open quality breakers), a {@link Plan} holds every variant's merged
 * node overrides, the bandits and their arms' overrides, and the evaluation sampling, so
 * `decide` is a hash, a few table lookups and the bandits' picks.
 * @module
 */
import type { AnyTopology, NodeOverride } from '../definition/types.ts';
import type { DecisionRequest, RunDecision } from '../runtime/loop.ts';
import { compileExperiment, type CompiledExperiment } from './experiments.ts';
import type { Bandit, BanditPolicy, PolicyVersion } from './types.ts';

/**
 * One bandit of a plan: the llm node it picks for, and each arm's merged override per variant.
 *
 * @example
 * ```ts
 * const arm = slot.bandit.choose();
 * const override = slot.merged[variantIndex][arm];
 * ```
 */
export interface BanditSlot {
  readonly node: string;
  readonly policy: BanditPolicy;
  readonly bandit: Bandit;
  /** By variant index (0 without an experiment), by arm name. */
  readonly merged: readonly Readonly<Record<string, NodeOverride>>[];
  /**
   * The whole decision part of each arm when this is the plan's only bandit: by variant index,
   * by arm name, the run's overrides and arms (frozen, shared by every run that draws the arm).
   */
  readonly picks: readonly Readonly<Record<string, Pick>>[] | undefined;
}

/**
 * What a run drawing one arm of a plan's only bandit gets: its overrides and its arms record.
 *
 * @example
 * ```ts
 * const pick: Pick = { overrides: { answer: { model: 'sim:a' } }, arms: { answer: 'a' } };
 * ```
 */
export interface Pick {
  readonly overrides: Readonly<Record<string, NodeOverride>>;
  readonly arms: Readonly<Record<string, string>>;
}

/**
 * What `decide` needs of one topology under one policy version.
 *
 * @example
 * ```ts
 * const plan = compilePlan({ topology: qa, policy, paused: new Set(), breakers: new Set(), bandit: getBandit, sampleRate: 1 });
 * const d = decideWith(plan, request, random);
 * ```
 */
export interface Plan {
  readonly topology: AnyTopology;
  readonly policy: PolicyVersion | undefined;
  /** The policy version (0: none). */
  readonly version: number;
  /** The topology's experiment, compiled (undefined without one). */
  readonly experiment: CompiledExperiment | undefined;
  /** Variant names in order (empty without an experiment). */
  readonly variants: readonly string[];
  /** Variant index by name. */
  readonly index: ReadonlyMap<string, number>;
  readonly control: string | undefined;
  /** The policy's variant weights (the experiment's own when undefined). */
  readonly weights: Readonly<Record<string, number>> | undefined;
  readonly paused: ReadonlySet<string>;
  /** Merged overrides by variant index (index 0 without an experiment). */
  readonly overrides: readonly (Readonly<Record<string, NodeOverride>> | undefined)[];
  readonly bandits: readonly BanditSlot[];
  readonly sampleRate: number;
  readonly evaluationNodes: readonly string[] | undefined;
  readonly promptVersion: string | null;
}

/**
 * What a plan is compiled from.
 *
 * @example
 * ```ts
 * const input: PlanInput = { topology: qa, policy: undefined, paused: new Set(), breakers: new Set(), bandit: (node, p) => getBandit(node, p), sampleRate: 0.1 };
 * ```
 */
export interface PlanInput {
  readonly topology: AnyTopology;
  readonly policy: PolicyVersion | undefined;
  readonly paused: ReadonlySet<string>;
  /** Models whose quality breaker is open: dropped from every llm node's chain. */
  readonly breakers: ReadonlySet<string>;
  /** The bandit of an llm node (the loop keeps them across plans). */
  readonly bandit: (node: string, policy: BanditPolicy) => Bandit;
  /** Default evaluation sampling (the policy's `evaluation` wins). */
  readonly sampleRate: number;
  readonly evaluationNodes?: readonly string[] | undefined;
}

/** Merges per-node overrides: `over`'s fields win, node by node. */
function mergeNodes(
  base: Readonly<Record<string, NodeOverride>> | undefined,
  over: Readonly<Record<string, NodeOverride>> | undefined,
): Record<string, NodeOverride> {
  const out: Record<string, NodeOverride> = { ...base };
  if (over !== undefined) for (const [id, o] of Object.entries(over)) out[id] = { ...out[id], ...o };
  return out;
}

/**
 * Drops models with an open quality breaker from each llm node's chain (the override's, else
 * the node's own); when every model of the override is broken, the node's own chain (minus
 * broken ones) is used; when nothing is left, the chain is kept as it is (a run needs a model).
 */
function dropBroken(topology: AnyTopology, ov: Record<string, NodeOverride>, breakers: ReadonlySet<string>): Record<string, NodeOverride> {
  if (breakers.size === 0) return ov;
  for (const node of topology.nodes) {
    if (node.kind !== 'llm') continue;
    const own = node.models ?? [];
    const m = ov[node.id]?.model;
    const chain = m === undefined ? own : typeof m === 'string' ? [m] : m;
    let kept = chain.filter((x) => !breakers.has(x));
    if (kept.length === chain.length) continue;
    if (kept.length === 0) kept = own.filter((x) => !breakers.has(x));
    if (kept.length === 0) continue;
    ov[node.id] = { ...ov[node.id], model: kept.length === 1 ? kept[0]! : kept };
  }
  return ov;
}

const isEmpty = (o: Record<string, unknown>): boolean => {
  for (const _ in o) return false;
  return true;
};

/**
 * Compiles a topology's plan under a policy version, paused variants and open breakers.
 *
 * @example
 * ```ts
 * const plan = compilePlan({ topology: qa, policy: registry.current('qa'), paused, breakers, bandit, sampleRate: 1 });
 * ```
 */
export function compilePlan(input: PlanInput): Plan {
  const { topology, policy, paused, breakers } = input;
  const doc = policy?.document;
  const exp = topology.experiment;
  const experiment = exp === undefined ? undefined : compileExperiment(exp, topology.name);
  const variants = experiment?.variants ?? [];
  const count = Math.max(1, variants.length);
  const overrides: (Record<string, NodeOverride> | undefined)[] = [];
  const rawByVariant: Record<string, NodeOverride>[] = [];
  for (let i = 0; i < count; i++) {
    const v = variants[i];
    const raw = mergeNodes(v === undefined ? undefined : exp!.variants[v]!.nodes, doc?.nodes);
    rawByVariant.push(raw);
    const ov = dropBroken(topology, { ...raw }, breakers);
    overrides.push(isEmpty(ov) ? undefined : ov);
  }
  const bandits: BanditSlot[] = [];
  const banditPolicies = Object.entries(doc?.bandits ?? {});
  for (const [node, bp] of banditPolicies) {
    const merged = rawByVariant.map((raw) => {
      const byArm: Record<string, NodeOverride> = {};
      for (const [arm, armOv] of Object.entries(bp.arms)) {
        byArm[arm] = dropBroken(topology, { ...raw, [node]: { ...raw[node], ...armOv } }, breakers)[node]!;
      }
      return byArm;
    });
    // one bandit (the usual case): every (variant, arm) decision is made here, so a run allocates none
    const picks = banditPolicies.length !== 1 ? undefined : merged.map((byArm, vi) => {
      const out: Record<string, Pick> = {};
      for (const arm of Object.keys(byArm)) {
        out[arm] = Object.freeze({ overrides: Object.freeze({ ...overrides[vi], [node]: byArm[arm]! }), arms: Object.freeze({ [node]: arm }) });
      }
      return out;
    });
    bandits.push({ node, policy: bp, bandit: input.bandit(node, bp), merged, picks });
  }
  const evaluation = doc?.evaluation;
  return {
    topology,
    policy,
    version: policy?.version ?? 0,
    experiment,
    variants,
    index: new Map(variants.map((v, i) => [v, i])),
    control: experiment?.control,
    weights: doc?.variants,
    paused: new Set(paused),
    overrides,
    bandits,
    sampleRate: evaluation?.sampleRate ?? input.sampleRate,
    evaluationNodes: evaluation === undefined ? input.evaluationNodes : evaluation.nodes,
    promptVersion: doc?.promptVersion ?? null,
  };
}

/**
 * The key a run's assignments stick to (the experiment's `stickyBy`; a topology without one:
 * the user, else the tenant, else the run id).
 *
 * @example
 * ```ts
 * stickyKey(plan, request); // 'u7'
 * ```
 */
export function stickyKey(plan: Plan, req: DecisionRequest): string {
  return plan.experiment !== undefined ? plan.experiment.keyOf(req) : req.user ?? req.tenant ?? req.runId;
}

/**
 * A run's decision under a plan: its variant (a paused one's runs go to control), the
 * merged overrides, each bandit's pick and whether it is sampled for evaluation.
 *
 * @example
 * ```ts
 * const d = decideWith(plan, request, () => random.next());
 * ```
 */
export function decideWith(plan: Plan, req: DecisionRequest, random: () => number): RunDecision {
  let vi = 0;
  let variant: string | undefined;
  const exp = plan.experiment;
  if (exp !== undefined) {
    variant = exp.assign(exp.keyOf(req), plan.weights, plan.paused);
    vi = plan.index.get(variant)!;
  }
  let overrides = plan.overrides[vi];
  let arms: Readonly<Record<string, string>> | undefined;
  const one = plan.bandits.length === 1 ? plan.bandits[0]! : undefined;
  if (one?.picks !== undefined) {
    const arm = one.bandit.choose();
    const pick = one.picks[vi]![arm];
    if (pick !== undefined) {
      overrides = pick.overrides;
      arms = pick.arms;
    } else arms = { [one.node]: arm }; // an arm the policy does not name (a bandit kept across plans): no settings of its own
  } else if (plan.bandits.length > 0) {
    const ov: Record<string, NodeOverride> = { ...overrides };
    const drawn: Record<string, string> = {};
    for (const slot of plan.bandits) {
      const arm = slot.bandit.choose();
      drawn[slot.node] = arm;
      const o = slot.merged[vi]![arm];
      if (o !== undefined) ov[slot.node] = o;
    }
    overrides = ov;
    arms = drawn;
  }
  const rate = plan.sampleRate;
  const evaluate = rate >= 1 ? true : rate <= 0 ? false : random() < rate;
  const d: { -readonly [K in keyof RunDecision]: RunDecision[K] } = { policyVersion: plan.version, evaluate };
  if (variant !== undefined) d.variant = variant;
  if (overrides !== undefined) d.overrides = overrides;
  if (arms !== undefined) d.arms = arms;
  return d;
}
