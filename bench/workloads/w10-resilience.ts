/**
 * W10: what the resilience wrappers of a model call cost when nothing fails.
 * @module
 */
import type { Call } from '../systems/types.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';

/** Calls per timed block. */
const BLOCK = 20_000;

/** The model call, reduced to a trivial async function. */
const trivial: Call = async () => 1;

/** µs per call of `f`, over `n` sequential awaited calls (each must answer 1). */
async function perCall(f: Call, n: number, what: string): Promise<number> {
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sum += await f();
  const ms = performance.now() - t0;
  check(sum, n, what);
  return (ms * 1000) / n;
}

export const workload: Workload = {
  id: 'w10',
  title: 'Resilience wrappers around a model call, nothing failing',
  description: `A trivial async function (\`async () => 1\`) called ${BLOCK.toLocaleString('en-US')} times per block, one call at a time. llm-orchestrator wraps it exactly as the llm operator wraps a model call: \`withRetries\` → \`Resilience.inBulkhead\` → \`Breakers.execute\` (a cockatiel circuit breaker), with what the operator builds per call for them (retry options, the \`again\` test, hooks and their closures); \`us_per_call\` without a bulkhead configured for the provider, \`us_per_call_bulkhead\` with one configured (limit 64, queue 1024). \`added_us\` is wrapped − direct, both timed in the same process in alternating blocks (median over blocks); the promise baseline calls the function directly in every slot, so its \`added_us\` is the noise floor. 15 blocks per variant (quick: 5).`,
  metrics: [
    { name: 'us_per_call', unit: 'µs', better: 'lower' },
    { name: 'us_per_call_bulkhead', unit: 'µs', better: 'lower' },
    { name: 'added_us', unit: 'µs', better: 'lower', ratio: false },
    { name: 'added_us_bulkhead', unit: 'µs', better: 'lower', ratio: false },
    { name: 'direct_us', unit: 'µs', better: 'lower', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'added_us', op: '<=', value: 1, label: '≤ 1 µs added per call (no bulkhead)' },
    { kind: 'value', metric: 'added_us_bulkhead', op: '<=', value: 1, label: '≤ 1 µs added per call (with a bulkhead)' },
  ],
  systems: () => ['llm-orchestrator', 'promise'],
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const guard = ctx.system.guard;
    if (guard === undefined) throw new Error(`${ctx.system.id} has no resilience wrapper`);
    const variants: readonly [string, Call][] = [['direct', trivial], ['plain', guard(trivial, false)], ['bulkhead', guard(trivial, true)]];
    const blocks = ctx.mode === 'quick' ? 5 : 15;
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    // Warm-up on the same paths.
    for (const [k, f] of variants) await perCall(f, BLOCK, `warm-up ${k}`);
    for (let b = 0; b < blocks; b++) {
      // rotate the order so no variant always follows another's garbage
      for (let j = 0; j < variants.length; j++) {
        const [k, f] = variants[(b + j) % variants.length]!;
        times.get(k)!.push(await perCall(f, BLOCK, `${k} block ${b}`));
      }
    }
    const direct = times.get('direct')!;
    const plain = times.get('plain')!;
    const bulk = times.get('bulkhead')!;
    return {
      us_per_call: median(plain),
      us_per_call_bulkhead: median(bulk),
      added_us: median(plain.map((x, b) => x - direct[b]!)),
      added_us_bulkhead: median(bulk.map((x, b) => x - direct[b]!)),
      direct_us: median(direct),
    };
  },
};
