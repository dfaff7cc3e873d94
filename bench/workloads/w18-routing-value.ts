/**
 * W18: what routing by feedback is worth. The demo topology (topologies/loop-demo.ts: one llm
 * node answering `What is A + B?`) runs the same 5,000 questions four ways in one process, on
 * SIMULATED models of known quality and price (sim:small 0.55, sim:medium 0.9, sim:large 0.93;
 * price 1 : 5 : 25): always the best model, always the cheapest, a uniformly random model, and
 * the loop's Thompson-sampling bandit (reward = correct − 3000 × run cost in USD) learning from
 * the simulated evaluator's feedback on every run. Reports each one's quality and cost, the
 * bandit's as % of always-best, and writes the bandit's traffic share per arm over the runs as
 * an SVG chart (bench/results/w18-convergence.svg).
 * @module
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type AnyTopology } from '../../src/index.ts';
import type { RunLoop } from '../../src/runtime/loop.ts';
import { createLoop } from '../../src/loops/index.ts';
import { createRandom } from '../../src/primitives/random.ts';
// topologies/loop-demo.ts imports 'llm-orchestrator' by name: it is loaded in run() only, so the
// other workloads' children (which run without --conditions=llmo-source) never resolve it
type Demo = typeof import('../../topologies/loop-demo.ts');
import type { Workload } from '../lib/types.ts';
import { lineChart } from '../lib/svg.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Runs per share point of the chart. */
const WINDOW = 100;
type Arm = keyof Demo['ARMS'];
const ARM_NAMES: readonly Arm[] = ['small', 'medium', 'large'];
const COLORS: Record<Arm, string> = { small: '#2a9d8f', medium: '#e76f51', large: '#264653' };

interface Outcome {
  /** Share of right answers. */
  readonly quality: number;
  /** Mean cost of a run, USD. */
  readonly cost: number;
  /** The model of each run. */
  readonly models: readonly string[];
}

/** Runs every question once, one at a time, on an engine with `loop` (or a fixed model). */
async function play(demo: Demo, t: AnyTopology, questions: readonly string[], opts: { loop?: RunLoop; model?: string }): Promise<Outcome> {
  const engine = createEngine(opts.loop === undefined ? {} : { loop: opts.loop });
  let right = 0;
  let cost = 0;
  const models: string[] = [];
  for (let i = 0; i < questions.length; i++) {
    const input = { question: questions[i]! };
    const r = await engine.run(t, input, { runId: `w18-${i}`, ...(opts.model === undefined ? {} : { overrides: { answer: { model: opts.model } } }) });
    if (r.status !== 'completed') throw new Error(`run ${i} ${r.status}: ${r.error?.message}`);
    const out = r.output as { text: string; model: string };
    right += demo.judge(input, out).score;
    cost += r.usage.costUsd;
    models.push(out.model);
  }
  await engine.shutdown();
  return { quality: right / questions.length, cost: cost / questions.length, models };
}

/** A loop that sends each run to a uniformly random arm (seeded). */
function uniformLoop(models: readonly string[], seed: number): RunLoop {
  const random = createRandom(seed);
  return {
    decide: () => ({ overrides: { answer: { model: models[Math.floor(random.next() * models.length)]! } } }),
    ended: () => undefined,
    stats: () => [],
  };
}

/** Share of each arm in consecutive windows of `WINDOW` runs. */
function shares(arms: Demo['ARMS'], models: readonly string[]): Record<Arm, [number, number][]> {
  const out: Record<Arm, [number, number][]> = { small: [], medium: [], large: [] };
  for (let end = WINDOW; end <= models.length; end += WINDOW) {
    const w = models.slice(end - WINDOW, end);
    for (const a of ARM_NAMES) out[a].push([end, w.filter((m) => m === arms[a]).length / WINDOW]);
  }
  return out;
}

export const workload: Workload = {
  id: 'w18',
  title: 'Routing value: bandit vs always-best, always-cheapest, uniform random (simulated 3-model workload)',
  description: 'The same 5,000 questions (quick: 1,000) of topologies/loop-demo.ts, one run at a time, four ways in one process on SIMULATED models of known quality and price (sim:small 0.55, sim:medium 0.9, sim:large 0.93; price 1 : 5 : 25): always sim:large, always sim:small, a uniformly random model, and the loop\'s Thompson bandit (reward = correct − 3000 × run cost USD) fed by the simulated evaluator on every run. Quality = share of right answers over all runs (exploration included); cost = mean USD per run. `bandit_quality_pct` and `bandit_cost_pct` are the bandit\'s as % of always-best. The bandit\'s traffic share per arm (windows of 100 runs) is drawn to bench/results/w18-convergence.svg. llm-orchestrator only.',
  metrics: [
    { name: 'best_quality', unit: 'share', better: 'higher', ratio: false },
    { name: 'cheapest_quality', unit: 'share', better: 'higher', ratio: false },
    { name: 'random_quality', unit: 'share', better: 'higher', ratio: false },
    { name: 'bandit_quality', unit: 'share', better: 'higher', ratio: false },
    { name: 'best_cost_uusd', unit: 'µUSD/run', better: 'lower', ratio: false },
    { name: 'cheapest_cost_uusd', unit: 'µUSD/run', better: 'lower', ratio: false },
    { name: 'random_cost_uusd', unit: 'µUSD/run', better: 'lower', ratio: false },
    { name: 'bandit_cost_uusd', unit: 'µUSD/run', better: 'lower', ratio: false },
    { name: 'bandit_quality_pct', unit: '% of best', better: 'higher', ratio: false },
    { name: 'bandit_cost_pct', unit: '% of best', better: 'lower', ratio: false },
    { name: 'bandit_medium_share_last_1000', unit: 'share', better: 'higher', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'bandit_quality_pct', op: '>=', value: 95, label: "bandit ≥ 95 % of always-best's quality" },
    { kind: 'value', metric: 'bandit_cost_pct', op: '<=', value: 50, label: "bandit ≤ 50 % of always-best's cost" },
  ],
  systems: () => ['llm-orchestrator'],
  // topologies/loop-demo.ts imports 'llm-orchestrator': resolve it to this checkout's source
  nodeFlags: ['--conditions=llmo-source'],
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 180_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w18 measures llm-orchestrator's loop, not ${ctx.system.id}`);
    const demo: Demo = await import('../../topologies/loop-demo.ts');
    const { ARMS, BANDIT_POLICY, judge, policyUpdate, sumQa } = demo;
    const n = ctx.mode === 'quick' ? 1_000 : 5_000;
    const questions = demo.demoQuestions(n, 7 + ctx.rep);
    const best = await play(demo, sumQa, questions, { model: ARMS.large });
    const cheapest = await play(demo, sumQa, questions, { model: ARMS.small });
    const random = await play(demo, sumQa, questions, { loop: uniformLoop(Object.values(ARMS), 11 + ctx.rep) });
    const loop = createLoop({ topologies: [sumQa], seed: 13 + ctx.rep });
    const applied = loop.applyPolicy(policyUpdate(sumQa.name, 1, BANDIT_POLICY, 'w18 bandit'));
    if (!applied.ok) throw new Error(`bandit policy refused: ${applied.issues.map((i) => i.message).join('; ')}`);
    // the simulated evaluator, synchronously: each run's feedback is in before the next run starts
    let fed = 0;
    const sub = loop.evaluations$.subscribe((e) => {
      const j = judge(e.input, e.output);
      const outcome = loop.feedback({ feedbackId: `fb-${e.evaluationId}`, topology: e.topology, runId: e.runId, nodeId: null, model: null, metric: j.metric, score: j.score, source: 'sim-judge', ts: Date.now(), comment: null });
      if (outcome !== 'joined') throw new Error(`feedback for ${e.runId}: ${outcome}`);
      fed++;
    });
    const bandit = await play(demo, sumQa, questions, { loop });
    sub.unsubscribe();
    if (fed !== n) throw new Error(`${fed} feedback messages for ${n} runs`);
    const s = shares(ARMS, bandit.models);
    const last = bandit.models.slice(-1_000);
    writeFileSync(path.join(here, '..', 'results', 'w18-convergence.svg'), lineChart({
      title: `W18: the bandit's traffic share per arm (windows of ${WINDOW} runs, SIMULATED models)`,
      xLabel: 'runs',
      yLabel: 'share of runs',
      series: ARM_NAMES.map((a) => ({ name: `${ARMS[a]} (${{ small: 'q 0.55, 1×', medium: 'q 0.90, 5×', large: 'q 0.93, 25×' }[a]})`, color: COLORS[a], points: s[a] })),
    }));
    const m = {
      best_quality: best.quality,
      cheapest_quality: cheapest.quality,
      random_quality: random.quality,
      bandit_quality: bandit.quality,
      best_cost_uusd: best.cost * 1e6,
      cheapest_cost_uusd: cheapest.cost * 1e6,
      random_cost_uusd: random.cost * 1e6,
      bandit_cost_uusd: bandit.cost * 1e6,
      bandit_quality_pct: (100 * bandit.quality) / best.quality,
      bandit_cost_pct: (100 * bandit.cost) / best.cost,
      bandit_medium_share_last_1000: last.filter((x) => x === ARMS.medium).length / last.length,
    };
    ctx.log(`quality best ${m.best_quality.toFixed(3)} cheapest ${m.cheapest_quality.toFixed(3)} random ${m.random_quality.toFixed(3)} bandit ${m.bandit_quality.toFixed(3)} (${m.bandit_quality_pct.toFixed(1)} %); cost bandit ${m.bandit_cost_pct.toFixed(1)} % of best`);
    return m;
  },
};
