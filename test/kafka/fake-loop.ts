// A small, deterministic FeedbackLoop for the worker wiring tests (memory transport and Kafka): versioned
// policies per topology (nodes overrides only; unknown nodes and stale versions refused), a greedy bandit over
// the models of one llm node (each arm tried `explore` times first, then the best mean reward; ties go to the
// first arm), an evaluation request for every run, experience records for joined feedback on the bandit's metric.
import { Subject } from 'rxjs';
import type { Issue } from '../../src/errors.ts';
import type { NodeOverride } from '../../src/definition/types.ts';
import type { DecisionRequest, LoopEvent, RunDecision, RunSummary } from '../../src/runtime/loop.ts';
import type { ArmState, FeedbackCounters, FeedbackLoop, FeedbackOutcome, PolicyOutcome, PolicyVersion } from '../../src/loops/types.ts';
import type { EvaluationRequestMessage, ExperienceMessage, FeedbackMessage, PolicyUpdateMessage } from '../../src/transports/messages.ts';

export interface FakeLoopOptions {
  readonly topology: string;
  /** llm node ids a policy may set. */
  readonly nodes: readonly string[];
  /** A bandit over models of one node. */
  readonly bandit?: { readonly node: string; readonly models: readonly string[]; readonly metric: string; readonly explore?: number };
}

export interface FakeLoop extends FeedbackLoop {
  /** Decisions made, in order, with their run ids. */
  readonly decided: { readonly runId: string; readonly decision: RunDecision }[];
  readonly outcomes: FeedbackOutcome[];
}

const json = (text: string, path: (string | number)[], issues: Issue[]): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    issues.push({ code: 'invalid_json', path, message: 'must be JSON text' });
    return undefined;
  }
};

export function createFakeLoop(options: FakeLoopOptions): FakeLoop {
  const policies = new Map<string, PolicyVersion>();
  const runs = new Map<string, RunSummary>();
  const seen = new Set<string>();
  const arms = new Map<string, { pulls: number; rewards: number; sum: number }>((options.bandit?.models ?? []).map((m) => [m, { pulls: 0, rewards: 0, sum: 0 }]));
  const counters = { received: 0, joined: 0, late: 0, duplicate: 0, unknown_run: 0, invalid: 0 };
  const evaluations$ = new Subject<EvaluationRequestMessage>();
  const experience$ = new Subject<ExperienceMessage>();
  const events$ = new Subject<LoopEvent>();
  const decided: { runId: string; decision: RunDecision }[] = [];
  const outcomes: FeedbackOutcome[] = [];
  let emit: (e: LoopEvent) => void = () => undefined;
  const event = (e: LoopEvent): void => {
    events$.next(e);
    emit(e);
  };
  const count = (o: FeedbackOutcome): FeedbackOutcome => {
    counters[o]++;
    outcomes.push(o);
    return o;
  };
  const choose = (): string | undefined => {
    const b = options.bandit;
    if (b === undefined) return undefined;
    const explore = b.explore ?? 1;
    const untried = b.models.find((m) => arms.get(m)!.pulls < explore);
    if (untried !== undefined) return untried;
    let best = b.models[0]!;
    const mean = (m: string): number => { const a = arms.get(m)!; return a.rewards === 0 ? 0 : a.sum / a.rewards; };
    for (const m of b.models) if (mean(m) > mean(best)) best = m;
    return best;
  };

  const loop: FakeLoop = {
    decided,
    outcomes,
    decide(req: DecisionRequest): RunDecision {
      const p = policies.get(req.topology.name);
      const overrides: Record<string, NodeOverride> = { ...(p?.document.nodes ?? {}) };
      const arm = choose();
      if (arm !== undefined) {
        arms.get(arm)!.pulls++;
        overrides[options.bandit!.node] = { ...overrides[options.bandit!.node], model: arm };
      }
      const decision: RunDecision = {
        ...(p === undefined ? {} : { policyVersion: p.version }),
        ...(Object.keys(overrides).length === 0 ? {} : { overrides }),
        ...(arm === undefined ? {} : { arms: { [options.bandit!.node]: arm } }),
        evaluate: true,
      };
      decided.push({ runId: req.runId, decision });
      return decision;
    },
    ended(s: RunSummary) {
      runs.set(s.runId, s);
      if (s.decision?.evaluate !== true) return;
      evaluations$.next({
        evaluationId: s.runId, runId: s.runId, nodeId: null, topology: s.topology, version: s.version,
        variant: s.decision.variant ?? null, policyVersion: s.decision.policyVersion ?? null, promptVersion: null,
        models: { ...s.models }, arms: { ...(s.decision.arms ?? {}) }, input: JSON.stringify(s.input ?? null), output: JSON.stringify(s.output ?? null),
        status: s.status, latencyMs: s.endedAt - s.startedAt, inputTokens: s.usage?.inputTokens ?? 0, outputTokens: s.usage?.outputTokens ?? 0,
        costUsd: s.usage?.costUsd ?? 0, tenant: s.tenant ?? null, user: s.user ?? null, ts: s.endedAt,
      });
    },
    stats: () => [],
    attach(host) {
      emit = (e) => host.emit(e);
    },
    feedback(m: FeedbackMessage): FeedbackOutcome {
      counters.received++;
      if (!Number.isFinite(m.score) || m.metric === '') return count('invalid');
      if (seen.has(m.feedbackId)) return count('duplicate');
      const run = m.runId === null ? undefined : runs.get(m.runId);
      if (run === undefined) {
        event({ type: 'feedback.rejected', ts: Date.now(), topology: m.topology, feedbackId: m.feedbackId, runId: m.runId, reason: 'unknown_run' });
        return count('unknown_run');
      }
      seen.add(m.feedbackId);
      const b = options.bandit;
      const arm = run.decision?.arms?.[b?.node ?? ''];
      if (b !== undefined && arm !== undefined && m.metric === b.metric) {
        const a = arms.get(arm)!;
        a.rewards++;
        a.sum += m.score;
        experience$.next({
          runId: run.runId, topology: run.topology, decision: b.node, arm, context: JSON.stringify({ input: run.input }), metric: m.metric,
          quality: m.score, costUsd: run.usage?.costUsd ?? 0, reward: m.score, ts: m.ts,
        });
      }
      return count('joined');
    },
    applyPolicy(u: PolicyUpdateMessage): PolicyOutcome {
      const issues: Issue[] = [];
      const nodes: Record<string, NodeOverride> = {};
      for (const [key, text] of Object.entries(u.params)) {
        if (key !== 'nodes') {
          issues.push({ code: 'unrecognized_keys', path: ['params', key], message: `unknown policy field '${key}'` });
          continue;
        }
        const v = json(text, ['params', key], issues);
        if (typeof v !== 'object' || v === null) continue;
        for (const [node, o] of Object.entries(v as Record<string, NodeOverride>)) {
          if (!options.nodes.includes(node)) issues.push({ code: 'unknown_node', path: ['params', 'nodes', node], message: `no llm node '${node}' in ${u.target}` });
          else nodes[node] = o;
        }
      }
      const current = policies.get(u.target);
      if (issues.length === 0 && current !== undefined && u.version <= current.version) {
        if (u.version === current.version && JSON.stringify(current.document.nodes ?? {}) === JSON.stringify(nodes)) return { ok: true, policy: current, duplicate: true };
        issues.push({ code: 'stale_version', path: ['version'], message: `version ${u.version} is not above the current ${current.version}` });
      }
      if (issues.length > 0) {
        event({ type: 'policy.rejected', ts: Date.now(), topology: u.target, version: u.version, reason: issues.map((i) => i.message).join('; ') });
        return { ok: false, issues };
      }
      const policy: PolicyVersion = { target: u.target, version: u.version, policyId: u.policyId, document: { nodes }, reason: u.reason, ts: u.ts };
      policies.set(u.target, policy);
      event({ type: 'policy.applied', ts: Date.now(), topology: u.target, version: u.version, ...(current === undefined ? {} : { previous: current.version }) });
      return { ok: true, policy, duplicate: false };
    },
    rollback: () => ({ ok: false, issues: [{ code: 'unsupported', path: [], message: 'the fake loop does not roll back' }] }),
    policies: (target?: string) => [...policies.values()].filter((p) => target === undefined || p.target === target),
    counters: (): FeedbackCounters => ({ ...counters }),
    bandits: () => (options.bandit === undefined ? [] : [{
      topology: options.topology, decision: options.bandit.node,
      arms: options.bandit.models.map((m): ArmState => { const a = arms.get(m)!; return { arm: m, pulls: a.pulls, rewards: a.rewards, mean: a.rewards === 0 ? 0 : a.sum / a.rewards }; }),
    }]),
    evaluations$: evaluations$.asObservable(),
    experience$: experience$.asObservable(),
    events$: events$.asObservable(),
  };
  return loop;
}
