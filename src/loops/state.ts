/**
 * The state a loop shares between its parts: per topology, the current plan (and the
 * baseline's during a canary), paused variants, open quality breakers, regression tests
 * and the canary; the bandits; the event outlet.
 * @module
 */
import type { AnyTopology } from '../definition/types.ts';
import type { LoopEvent } from '../runtime/loop.ts';
import { createBandit } from './bandit.ts';
import type { Canary } from './canary.ts';
import { compilePlan, type Plan } from './decide.ts';
import { bucketOf } from './experiments.ts';
import type { PolicyRegistry } from './policy-registry.ts';
import type { Bandit, BanditPolicy, PolicyVersion, RegressionRule, RegressionTest, StatsBook } from './types.ts';

/**
 * A canary under way: the candidate version takes the canary's share of traffic from the baseline.
 *
 * @example
 * ```ts
 * if (st.canary && st.canary.canary.pick(bucketOf(key, st.canary.salt)) !== plan.version) plan = baselinePlanOf(ctx, st, st.canary);
 * ```
 */
export interface CanaryRun {
  readonly canary: Canary;
  /** The canary's regression test (its moments are reported on a rollback). */
  readonly test: RegressionTest;
  /** The version the canary is compared with (undefined: the topology's own definition, version 0). */
  readonly baseline: PolicyVersion | undefined;
  readonly candidate: PolicyVersion;
  readonly salt: string;
}

/**
 * A regression test of one variant against control on one metric, and what it last saw.
 *
 * @example
 * ```ts
 * const t: VariantTest = { variant: 'b', test: createRegressionTest({ metric: 'q' }), model: 'sim:b', fired: false };
 * ```
 */
export interface VariantTest {
  readonly variant: string;
  readonly test: RegressionTest;
  /** The model of the variant's last judged run (for a breaker). */
  model: string;
  /** Raised already (one event per test until it is reset). */
  fired: boolean;
}

/**
 * One topology's live state.
 *
 * @example
 * ```ts
 * const st: TopologyState = topologyState(ctx, 'qa');
 * st.paused.has('b');
 * ```
 */
export interface TopologyState {
  readonly name: string;
  topology: AnyTopology | undefined;
  readonly paused: Set<string>;
  readonly breakers: Set<string>;
  /** Under the current policy version; undefined: compile on next use. */
  plan: Plan | undefined;
  /** Under the canary's baseline version. */
  baselinePlan: Plan | undefined;
  canary: CanaryRun | undefined;
  /** By `<variant>\0<metric>`. */
  readonly tests: Map<string, VariantTest>;
}

/**
 * Loop settings the parts read.
 *
 * @example
 * ```ts
 * const late = ctx.settings.now() - info.endedAt > ctx.settings.lateAfterMs;
 * ```
 */
export interface LoopSettings {
  readonly sampleRate: number;
  readonly evaluationNodes: readonly string[] | undefined;
  readonly regression: readonly RegressionRule[];
  readonly seed: number;
  readonly lateAfterMs: number;
  readonly now: () => number;
}

/**
 * What the parts of a loop share.
 *
 * @example
 * ```ts
 * const plan = planOf(ctx, topologyState(ctx, 'qa'));
 * ```
 */
export interface LoopContext {
  readonly settings: LoopSettings;
  readonly registry: PolicyRegistry;
  readonly book: StatsBook;
  readonly topologies: Map<string, TopologyState>;
  /** Bandits by `<topology>\0<node>\0<policy JSON>` (kept across policy versions with the same bandit). */
  readonly bandits: Map<string, { readonly topology: string; readonly node: string; readonly bandit: Bandit }>;
  /** The bandits each policy version of a topology uses, by `<topology>\0<version>`, by node. */
  readonly versionBandits: Map<string, Map<string, { readonly bandit: Bandit; readonly policy: BanditPolicy }>>;
  emit(event: LoopEvent): void;
}

/**
 * A topology's state (made on first use).
 *
 * @example
 * ```ts
 * topologyState(ctx, 'qa').paused.has('b');
 * ```
 */
export function topologyState(ctx: LoopContext, name: string): TopologyState {
  let st = ctx.topologies.get(name);
  if (st === undefined) {
    st = { name, topology: undefined, paused: new Set(), breakers: new Set(), plan: undefined, baselinePlan: undefined, canary: undefined, tests: new Map() };
    ctx.topologies.set(name, st);
  }
  return st;
}

/**
 * Plans must be compiled again (a policy, a pause or a breaker changed).
 *
 * @example
 * ```ts
 * st.paused.add('b');
 * invalidate(st);
 * ```
 */
export function invalidate(st: TopologyState): void {
  st.plan = undefined;
  st.baselinePlan = undefined;
}

function banditOf(ctx: LoopContext, topology: string, version: number) {
  return (node: string, policy: BanditPolicy): Bandit => {
    const fp = JSON.stringify(policy);
    const key = `${topology}\0${node}\0${fp}`;
    let entry = ctx.bandits.get(key);
    if (entry === undefined) {
      const seed = (ctx.settings.seed + Math.floor(bucketOf(`${topology}\0${node}`, 'bandit') * 0x7fffffff)) >>> 0;
      const bandit = createBandit({ arms: Object.keys(policy.arms), strategy: policy.strategy, rewards: policy.rewards, epsilon: policy.epsilon, seed });
      entry = { topology, node, bandit };
      ctx.bandits.set(key, entry);
    }
    const vk = `${topology}\0${version}`;
    let byNode = ctx.versionBandits.get(vk);
    if (byNode === undefined) ctx.versionBandits.set(vk, (byNode = new Map()));
    byNode.set(node, { bandit: entry.bandit, policy });
    return entry.bandit;
  };
}

/**
 * Compiles a topology's plan under a policy version (its current one by default).
 *
 * @example
 * ```ts
 * const plan = compileFor(ctx, st, registry.current('qa'));
 * ```
 */
export function compileFor(ctx: LoopContext, st: TopologyState, topology: AnyTopology, policy: PolicyVersion | undefined): Plan {
  return compilePlan({
    topology,
    policy,
    paused: st.paused,
    breakers: st.breakers,
    bandit: banditOf(ctx, st.name, policy?.version ?? 0),
    sampleRate: ctx.settings.sampleRate,
    evaluationNodes: ctx.settings.evaluationNodes,
  });
}

/**
 * The topology's current plan (compiled when missing or when the topology object changed),
 * or undefined while the loop has not seen the topology.
 *
 * @example
 * ```ts
 * const plan = planOf(ctx, st);
 * ```
 */
export function planOf(ctx: LoopContext, st: TopologyState, topology: AnyTopology | undefined = st.topology): Plan | undefined {
  if (topology === undefined) return undefined;
  if (st.topology !== topology) {
    st.topology = topology;
    ctx.registry.register(topology);
    invalidate(st);
  }
  return (st.plan ??= compileFor(ctx, st, topology, ctx.registry.current(st.name)));
}

/**
 * The canary baseline's plan (during a canary).
 *
 * @example
 * ```ts
 * const plan = st.canary ? baselinePlanOf(ctx, st) : planOf(ctx, st);
 * ```
 */
export function baselinePlanOf(ctx: LoopContext, st: TopologyState, canary: CanaryRun): Plan | undefined {
  if (st.topology === undefined) return undefined;
  return (st.baselinePlan ??= compileFor(ctx, st, st.topology, canary.baseline));
}
