/**
 * W12: requests per second through one worker over Kafka.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { kafkaSetup, skipWithoutKafka } from './kafka.ts';

const MAX_IN_FLIGHT = 64;

export const workload: Workload = {
  id: 'w12',
  title: 'Run requests per second through one worker over Kafka',
  description: `One worker (\`createWorker\` over \`createKafkaTransport\`, maxInFlight ${MAX_IN_FLIGHT}, publishing tokens and lifecycle events as by default, feedback/policy consumers off) serving an \`llm\` node on \`sim:fast\` (48 tokens per answer), and a client (\`createClient\` on its own transport) in the same process; fresh topics per measurement. \`client.submitMany\` sends 1,000 requests (quick: 300); time from the first submit until the last result arrived (every result checked: completed, with an answer), after a warm-up of 200 (quick: 64). kafkajs: the same request → reply hand-written on raw kafkajs (a consumer group with the same maxInFlight and commit-after-result, the same simulated answer, and per request the same messages our worker publishes: one token batch, four lifecycle events and the result, as JSON), its client in the same process. Needs KAFKA_BROKERS.`,
  metrics: [
    { name: 'requests_per_s', unit: 'requests/s', better: 'higher' },
    { name: 'ms', unit: 'ms', better: 'lower' },
    { name: 'requests', unit: 'requests', better: 'none', ratio: false },
  ],
  targets: [{ kind: 'ratio', metric: 'requests_per_s', baseline: 'kafkajs', op: '>=', value: 0.6, label: '≥ 60 % of raw kafkajs requests/s' }],
  systems: () => ['llm-orchestrator', 'kafkajs'],
  capable: ['llm-orchestrator', 'kafkajs', 'platformatic'],
  skip: skipWithoutKafka,
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 120_000),
  async run(ctx) {
    if (ctx.system.kafkaWorker === undefined) throw new Error(`${ctx.system.id} has no Kafka worker`);
    const n = ctx.mode === 'quick' ? 300 : 1000;
    const t0 = performance.now();
    const bench = await ctx.system.kafkaWorker(kafkaSetup(ctx, 'w12'), MAX_IN_FLIGHT);
    ctx.log(`worker started in ${(performance.now() - t0).toFixed(0)} ms`);
    try {
      const w0 = performance.now();
      await bench.roundTrip(ctx.mode === 'quick' ? 64 : 200);
      ctx.log(`warm-up in ${(performance.now() - w0).toFixed(0)} ms`);
      const s = performance.now();
      await bench.roundTrip(n);
      const ms = performance.now() - s;
      return { requests_per_s: n / (ms / 1000), ms, requests: n };
    } finally {
      await bench.close();
    }
  },
};
