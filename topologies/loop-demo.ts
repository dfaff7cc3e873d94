/**
 * Demo of a feedback loop: one llm node answers questions of a checkable task
 * (`What is A + B?`) on SIMULATED models of known quality and price, a simulated
 * evaluator scores every answer, and the loop's policies decide the model: a
 * bandit over `sim:small`, `sim:medium` and `sim:large` (quality 0.55, 0.9, 0.93;
 * price 1 : 5 : 25), then a bad canary that the loop rolls back.
 *
 *   answer (llm: model chosen per run by the loop's policy)
 *
 * Run the loop: `npm run demo:loop` (topologies/support/loop-demo-main.ts).
 * Run one question: `npx llmo run topologies/loop-demo.ts --input '{"question":"What is 37 + 45?"}'`.
 * @module
 */
import { z } from 'zod';
import { simJudge, simQuestion, topology, type NodeOverride } from 'llm-orchestrator';
import type { PolicyDocument, PolicyUpdateMessage } from 'llm-orchestrator/loops';

/** The arms of the demo's bandit: the three simulated models of known quality. */
export const ARMS = { small: 'sim:small', medium: 'sim:medium', large: 'sim:large' } as const;

/** The metric the simulated evaluator scores: 1 for a right sum, 0 for a wrong one. */
export const METRIC = 'correct';

/**
 * Reward = correct (0 or 1) − COST_WEIGHT × the run's cost in USD. A run costs about
 * $0.000003 on sim:small, $0.000016 on sim:medium, $0.00008 on sim:large, so the expected
 * rewards are about 0.54, 0.85 and 0.69: sim:medium is the arm to find.
 */
export const COST_WEIGHT = 3000;

/** The demo topology: one question in, the model's answer out (`{ text, usage, costUsd, model, … }`). */
export const sumQa = topology('sum-qa', {
  input: z.object({ question: z.string().min(1) }),
  description: 'Answers a sum question on a model the feedback loop picks (SIMULATED models of known quality)',
  maxInFlight: 1024,
})
  .llm('answer', { model: ARMS.large, system: 'Answer with the sum.', prompt: ({ input }) => input.question, maxTokens: 16 })
  .build({ output: 'answer' });

/** The default export `llmo run` picks. */
export default sumQa;

/**
 * `count` questions of the task, the same for the same seed (a small linear congruential
 * sequence: operands 0..999).
 *
 * @example
 * ```ts
 * demoQuestions(2, 1); // ['What is 12 + 907?', …]
 * ```
 */
export function demoQuestions(count: number, seed = 1): string[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a >>> 8) % 1000;
  };
  return Array.from({ length: count }, () => simQuestion(next(), next()));
}

/** The simulated evaluator's judgement of a run: its input (`{ question }`) against its output. */
export function judge(input: unknown, output: unknown): { metric: string; score: 0 | 1 } {
  return { metric: METRIC, score: simJudge(input, output) };
}

const arm = (model: string): NodeOverride => ({ model });

/** Policy 1: a Thompson-sampling bandit over the three models for the `answer` node, everything evaluated. */
export const BANDIT_POLICY: PolicyDocument = {
  bandits: {
    answer: {
      arms: { small: arm(ARMS.small), medium: arm(ARMS.medium), large: arm(ARMS.large) },
      metric: METRIC,
      costWeight: COST_WEIGHT,
      strategy: 'thompson',
      rewards: 'binary',
    },
  },
  evaluation: { sampleRate: 1 },
};

/**
 * Policy 2, bad on purpose: "save money" by answering on sim:small only, rolled out as a
 * canary (10 % of traffic, +20 points every 100 evaluated canary runs while it holds).
 */
export const BAD_CANARY_POLICY: PolicyDocument = {
  nodes: { answer: arm(ARMS.small) },
  canary: { percent: 10, step: 20, everyRuns: 100, metric: METRIC },
  evaluation: { sampleRate: 1 },
};

/**
 * A policy update message (as on the policies topic): each document field as JSON text.
 *
 * @example
 * ```ts
 * loop.applyPolicy(policyUpdate('sum-qa', 1, BANDIT_POLICY, 'route by reward'));
 * ```
 */
export function policyUpdate(target: string, version: number, doc: PolicyDocument, reason: string, ts = Date.now()): PolicyUpdateMessage {
  return {
    policyId: `demo-${target}-v${version}`,
    version,
    target,
    params: Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, JSON.stringify(v)])),
    reason,
    ts,
  };
}
