/**
 * W19: what the feedback loop costs a run. The same one-llm-node topology (with an A/B
 * experiment declared) on `sim:fast` (no delay) runs on two engines in one process: one
 * without a loop (the experiment is then ignored), one with `createLoop` deciding every run:
 * the policy lookup, the sticky variant assignment and a Thompson bandit's pick of the node's
 * settings, plus remembering the run for feedback when it ends. Target: ≤ 2 µs more per run.
 * @module
 */
import { z } from 'zod';
import { createEngine, topology, type AnyTopology } from '../../src/index.ts';
import type { RunDecision, RunLoop } from '../../src/runtime/loop.ts';
import { topologyVersion } from '../../src/runtime/version.ts';
import { createLoop } from '../../src/loops/index.ts';
import type { Workload } from '../lib/types.ts';
import { median } from '../lib/stats.ts';
import { cpuPerRun, cpuUs } from '../lib/cpu.ts';

/** Sum questions, so the simulated answer is short and the same work on both engines. */
const QUESTIONS = Array.from({ length: 64 }, (_, i) => `What is ${i * 7} + ${i * 13}?`);

function qa(): AnyTopology {
  return topology('w19', {
    input: z.object({ question: z.string() }),
    maxInFlight: 1024,
    experiment: { stickyBy: 'user', variants: { control: { weight: 50 }, cool: { weight: 50, nodes: { answer: { temperature: 0.2 } } } } },
  })
    .llm('answer', { model: 'sim:fast', prompt: ({ input }) => input.question, maxTokens: 16 })
    .build({ output: 'answer' });
}

export const workload: Workload = {
  id: 'w19',
  title: 'Loop overhead: a run with experiment + bandit routing + policy lookup vs a plain run',
  description: 'One llm node on `sim:fast` (no delay, a 5-token answer), the topology declaring a 50/50 experiment, run one at a time on two engines in the same process: without a loop, and with `createLoop` holding a policy whose Thompson bandit picks among two arms of the node (both `sim:fast`, so the model work is the same) and evaluation off. Each run has its own user (sticky assignment hashes it). Times are CPU time of the process (`process.cpuUsage()`, user + system, GC threads included), not wall time, so other work on the machine inflates them less. Alternating blocks of 2,000 runs (median over 15 blocks, quick: 5); `added_us` is the median of the per-block differences. To show where it goes: `seam_added_us`, the same for a third engine whose loop returns one constant decision (variant, policy version, overrides, arm) and forgets each run (the engine\'s part: applying the decision, stamping it on events, the run summary), and `decide_us`, `loop.decide` alone in a tight loop (the routing: policy lookup, sticky assignment, the bandit\'s draw). llm-orchestrator only.',
  metrics: [
    { name: 'plain_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'loop_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'added_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'seam_added_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'decide_us', unit: 'CPU µs/call', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'added_us', op: '<=', value: 2, label: '≤ 2 µs added per run' }],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 120_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w19 measures llm-orchestrator's loop, not ${ctx.system.id}`);
    const t = qa();
    const loop = createLoop({ topologies: [t], seed: 5, evaluation: { sampleRate: 0 } });
    const applied = loop.applyPolicy({
      policyId: 'w19', version: 1, target: 'w19', reason: 'w19', ts: Date.now(),
      params: {
        bandits: JSON.stringify({ answer: { arms: { a: { model: 'sim:fast' }, b: { model: 'sim:fast', temperature: 0.5 } }, metric: 'correct' } }),
        evaluation: JSON.stringify({ sampleRate: 0 }),
      },
    });
    if (!applied.ok) throw new Error(`policy refused: ${applied.issues.map((i) => i.message).join('; ')}`);
    const runner = (withLoop?: RunLoop): ((i: number) => Promise<void>) => {
      const engine = createEngine(withLoop === undefined ? {} : { loop: withLoop });
      return async (i) => {
        const r = await engine.run(t, { question: QUESTIONS[i & 63]! }, { user: `u${i}` });
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
        if (withLoop !== undefined && (r.decision?.policyVersion !== 1 || r.decision.arms?.['answer'] === undefined || r.decision.variant === undefined)) {
          throw new Error(`run without the loop's decision: ${JSON.stringify(r.decision)}`);
        }
      };
    };
    const constant: RunDecision = { variant: 'control', policyVersion: 1, overrides: { answer: { model: 'sim:fast' } }, arms: { answer: 'a' }, evaluate: false };
    const seam: RunLoop = { decide: () => constant, ended: () => undefined, stats: () => [] };
    const variants: readonly [string, (i: number) => Promise<void>][] = [['plain', runner()], ['loop', runner(loop)], ['seam', runner(seam)]];
    const block = 2_000;
    const blocks = ctx.mode === 'quick' ? 5 : 15;
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (const [, f] of variants) await cpuPerRun(f, block);
    for (let b = 0; b < blocks; b++) {
      for (let j = 0; j < variants.length; j++) {
        const [k, f] = variants[(b + j) % variants.length]!;
        times.get(k)!.push(await cpuPerRun(f, block));
      }
    }
    const plain = times.get('plain')!;
    const looped = times.get('loop')!;
    const added = median(looped.map((x, k) => x - plain[k]!));
    const seamAdded = median(times.get('seam')!.map((x, k) => x - plain[k]!));
    // decide alone: the routing a run start pays
    const version = topologyVersion(t);
    const calls = 200_000;
    const decideBlocks: number[] = [];
    for (let b = 0; b < 5; b++) {
      const c0 = cpuUs();
      for (let i = 0; i < calls; i++) {
        const d = loop.decide({ topology: t, version, runId: `r${i}`, tenant: undefined, user: `u${i}`, input: undefined });
        if (d?.policyVersion !== 1) throw new Error('decide without the policy');
      }
      decideBlocks.push((cpuUs() - c0) / calls);
    }
    const decide = median(decideBlocks);
    ctx.log(`${median(plain).toFixed(2)} µs/run plain, ${median(looped).toFixed(2)} with the loop: +${added.toFixed(2)} µs (engine seam +${seamAdded.toFixed(2)}, decide ${decide.toFixed(2)} µs)`);
    return { plain_us: median(plain), loop_us: median(looped), added_us: added, seam_added_us: seamAdded, decide_us: decide };
  },
};
