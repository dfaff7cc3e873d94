/**
 * W8: token streaming throughput: an llm node on `sim:fast` → a streaming
 * consumer that counts the tokens → a sink; tokens per second.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check, timedLoop } from '../lib/measure.ts';
import { createSimProvider } from '../../src/providers/sim.ts';
import { loopBudget } from './common.ts';

/** Tokens per run. */
const TOKENS = 1000;

export const workload: Workload = {
  id: 'w8',
  title: 'Token streaming throughput (sim:fast, 1,000 tokens per run)',
  description: 'Sequential runs, each one completion of 1,000 tokens from the simulated provider on `sim:fast` (zero delay: it emits synchronously). llm-orchestrator: an `llm` node → a `map` node with `streamFrom` that counts `ctx.tokens()` → a sink node. Raw RxJS: the same provider Observable subscribed directly by a counting subscriber (no engine), so the ratio is the engine\'s cost per token. Time-bounded like W1 (≥ 1.5 s; quick ≥ 0.3 s); every run must count exactly 1,000 tokens.',
  metrics: [
    { name: 'mtokens_per_s', unit: 'M tokens/s', better: 'higher' },
    { name: 'ns_per_token', unit: 'ns', better: 'lower' },
    { name: 'runs', unit: 'runs', better: 'none', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'mtokens_per_s', op: '>=', value: 1, label: '≥ 1,000,000 tokens/s' }],
  systems: () => ['llm-orchestrator', 'rxjs'],
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const pipe = ctx.system.tokenPipe?.(createSimProvider(), 'fast', TOKENS, { token: () => undefined });
    if (pipe === undefined) throw new Error(`${ctx.system.id} cannot stream tokens`);
    const once = async (i: number): Promise<void> => check(await pipe(`Run ${i}: count the tokens`), TOKENS, `tokens of run ${i}`);
    const budget = loopBudget(ctx.mode);
    await timedLoop(once, budget.warm);
    const { iters, ms } = await timedLoop(once, budget.measure);
    const tokens = iters * TOKENS;
    return { mtokens_per_s: tokens / (ms / 1000) / 1e6, ns_per_token: (ms * 1e6) / tokens, runs: iters };
  },
};
