/**
 * `npm run demo:loop [-- --runs 3000 --every 300]`: the feedback loop on the embedded default
 * (SIMULATED models, no keys, no services). Runs topologies/loop-demo.ts with a loop whose
 * policy is a bandit over three simulated models of known quality and price, judged by the
 * simulated evaluator on every run, and prints the traffic share per arm as it converges;
 * then applies a bad policy as a canary and prints its steps until the loop rolls it back.
 * Deterministic: the same flags print the same table (timings aside).
 * @module
 */
import { parseArgs } from 'node:util';
import { createEngine, DEFAULT_PRICES, SIM_MODELS } from 'llm-orchestrator';
import { attachEvaluator, createLoop, type LoopEvent } from 'llm-orchestrator/loops';
import { ARMS, BAD_CANARY_POLICY, BANDIT_POLICY, COST_WEIGHT, demoQuestions, judge, policyUpdate, sumQa } from '../loop-demo.ts';

const USAGE = 'usage: npm run demo:loop -- [--runs N (bandit runs, default 3000)] [--every N (rows, default runs/10)] [--canary-runs N (at most, default 3000)]\n';

function count(v: string | undefined, fallback: number, name: string): number {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    every: { type: 'string' },
    'canary-runs': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const runs = count(values.runs, 3000, 'runs');
const every = count(values.every, Math.max(1, Math.round(runs / 10)), 'every');
const canaryRuns = count(values['canary-runs'], 3000, 'canary-runs');

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
const pct = (x: number): string => `${(100 * x).toFixed(0).padStart(3)} %`;
const models = Object.values(ARMS);

const loop = createLoop({ topologies: [sumQa], seed: 7 });
const engine = createEngine({ loop });
const evaluator = attachEvaluator(loop, (req) => judge(req.input, req.output));

function describe(e: LoopEvent): string | undefined {
  switch (e.type) {
    case 'policy.applied':
    case 'policy.rolled_back':
    case 'policy.rejected':
      return `${e.type} v${e.version}${e.previous === undefined ? '' : ` (was v${e.previous})`}${e.reason === undefined ? '' : `: ${e.reason}`}`;
    case 'canary.step':
      return `canary.step ${e.phase}: v${e.version} takes ${e.percent} % of runs (baseline v${e.baseline})${e.reason === undefined ? '' : `: ${e.reason}`}`;
    case 'quality.regression':
      return `quality.regression ${e.metric}: ${e.mean.toFixed(2)} over ${e.count} runs vs ${e.controlMean.toFixed(2)} over ${e.controlCount} (${e.action})`;
    case 'variant.state':
      return `variant.state ${e.variant ?? e.model ?? ''} ${e.state}: ${e.reason}`;
    case 'feedback.rejected':
      return `feedback.rejected ${e.reason}`;
    case 'stats.updated':
      return undefined; // one per feedback: the table shows them
  }
}
let rolledBack = false;
loop.events$.subscribe((e) => {
  if (e.type === 'canary.step' && e.phase === 'rolled_back') rolledBack = true;
  const line = describe(e);
  if (line !== undefined) out(`  ⟶ ${line}`);
});

out('Feedback loop demo on SIMULATED models, judged by a simulated evaluator (no keys, no services)');
for (const m of models) {
  const p = DEFAULT_PRICES[m]!;
  out(`  ${m.padEnd(11)} right on ${pct(SIM_MODELS[m.slice(4)]!.quality ?? 1)} of sum questions, $${p.input.toFixed(2)} / $${p.output.toFixed(2)} per M tokens in / out`);
}
out(`  reward = correct (0|1) − ${COST_WEIGHT} × run cost in USD: sim:medium earns the most`);
out();

const questions = demoQuestions(runs + canaryRuns, 1);
const started = performance.now();
let next = 0;

interface Row {
  readonly byModel: Map<string, number>;
  right: number;
  cost: number;
  canary: number;
  n: number;
}
const row = (): Row => ({ byModel: new Map(), right: 0, cost: 0, canary: 0, n: 0 });

/** Runs one question; counts it into the row. */
async function one(r: Row, canaryVersion?: number): Promise<void> {
  const i = next++;
  const input = { question: questions[i]! };
  const res = await engine.run(sumQa, input, { runId: `demo-${i}` });
  if (res.status !== 'completed') throw new Error(`run ${i} ${res.status}: ${res.error?.message}`);
  const o = res.output as { model: string };
  r.byModel.set(o.model, (r.byModel.get(o.model) ?? 0) + 1);
  r.right += judge(input, res.output).score;
  r.cost += res.usage.costUsd;
  if (canaryVersion !== undefined && res.decision?.policyVersion === canaryVersion) r.canary++;
  r.n++;
}

const header = `${'runs'.padStart(7)}  ${models.map((m) => m.padStart(10)).join(' ')}  ${'right'.padStart(6)}  ${'µUSD/run'.padStart(8)}`;
const line = (r: Row, extra = ''): string =>
  `${String(next).padStart(7)}  ${models.map((m) => pct((r.byModel.get(m) ?? 0) / r.n).padStart(10)).join(' ')}  ${(r.right / r.n).toFixed(2).padStart(6)}  ${((1e6 * r.cost) / r.n).toFixed(1).padStart(8)}${extra}`;

// 1. the bandit
const v1 = loop.applyPolicy(policyUpdate(sumQa.name, 1, BANDIT_POLICY, 'bandit over three models'));
if (!v1.ok) throw new Error(`policy v1 refused: ${v1.issues.map((i) => i.message).join('; ')}`);
out();
out(`Traffic share per arm, each row the last ${every} runs:`);
out(header);
while (next < runs) {
  const r = row();
  while (r.n < every && next < runs) await one(r);
  out(line(r));
}

// 2. a bad canary
out();
out('Applying policy v2, bad on purpose: answer on sim:small only, as a canary');
const v2 = loop.applyPolicy(policyUpdate(sumQa.name, 2, BAD_CANARY_POLICY, 'save money: sim:small only'));
if (!v2.ok) throw new Error(`policy v2 refused: ${v2.issues.map((i) => i.message).join('; ')}`);
out(`${header}  ${'on v2'.padStart(6)}`);
const end = runs + canaryRuns;
let after = 0;
while (next < end && after < 2) {
  const r = row();
  const step = Math.max(1, Math.round(every / 2));
  while (r.n < step && next < end) await one(r, 2);
  out(line(r, `  ${pct(r.canary / r.n).padStart(6)}`));
  if (rolledBack) after++;
}
await new Promise((resolve) => setImmediate(resolve));

const ms = performance.now() - started;
const current = loop.policies(sumQa.name)[0];
out();
out(rolledBack ? `The canary was rolled back; policy v${current?.version} is current.` : `The canary was NOT rolled back within ${canaryRuns} runs.`);
const arms = loop.bandits().find((b) => b.topology === sumQa.name)?.arms ?? [];
out(`Bandit: ${arms.map((a) => `${a.arm} ${a.pulls} pulls (mean reward ${a.mean.toFixed(2)})`).join(', ')}`);
const c = loop.counters();
out(`${next} runs in ${(ms / 1000).toFixed(1)} s; feedback received ${c.received}, joined ${c.joined}; evaluator errors ${evaluator.stats().errors}`);
evaluator.stop();
await engine.shutdown();
process.exitCode = rolledBack ? 0 : 1;
