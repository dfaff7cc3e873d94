/**
 * llm-orchestrator over Kafka (W11, W12): the engine's token stream published
 * with `publishEvents` through `createKafkaTransport` and read back with the
 * transport's own reader; a worker fed by a client.
 * @module
 */
import { pino } from 'pino';
import { createEngine, topology, type AnyTopology, type NodeContext } from '../../src/index.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import type { Envelope, TokenBatchMessage } from '../../src/transports/index.ts';
import { createClient, createWorker, publishEvents } from '../../src/worker/index.ts';
import { sleep } from '../lib/measure.ts';
import { deleteTopics, promptOf, TokenTally } from './kafka-common.ts';
import type { KafkaSetup, KafkaTokenBench, KafkaWorkerBench } from './types.ts';

const silent = pino({ level: 'silent' });

/**
 * W11: an engine running an llm `sim:fast` topology; `publishEvents` (tokens only)
 * sends its token batches to the token topic; `transport.read('token')` reads them back.
 */
export async function kafkaTokens(setup: KafkaSetup): Promise<KafkaTokenBench> {
  const transport = createKafkaTransport({ brokers: setup.brokers, prefix: setup.prefix, clientId: 'bench-w11-ours' });
  await transport.ensureTopics();
  const engine = createEngine();
  const publisher = publishEvents(engine.events$, transport, { logger: silent, lifecycle: false });
  const tally = new TokenTally();
  const reader = transport.read('token', { fromBeginning: true }).subscribe({
    next: (m: Envelope<TokenBatchMessage>) => tally.add(m.value.runId, m.value.firstIndex, m.value.tokens),
    error: (e: unknown) => tally.fail(e),
  });
  const topologies = new Map<number, AnyTopology>();
  const topologyFor = (tokens: number): AnyTopology => {
    let t = topologies.get(tokens);
    if (t === undefined) {
      t = topology(`w11-${tokens}`)
        .llm('gen', { model: 'sim:fast', maxTokens: tokens, prompt: (ctx: NodeContext) => String(ctx.input) })
        .build({ output: 'gen' });
      topologies.set(tokens, t);
    }
    return t;
  };
  let round = 0;
  return {
    variants: ['publisher'],
    async roundTrip(variant, runs, tokensPerRun) {
      if (variant !== 'publisher') throw new Error(`unknown variant ${variant}`);
      const r = round++;
      const t = topologyFor(tokensPerRun);
      const expected = new Map<string, string>();
      const target = tally.total + runs * tokensPerRun;
      const arrived = tally.until(target);
      const results = await Promise.all(Array.from({ length: runs }, (_, i) => engine.run(t, promptOf(setup.prefix, r, i))));
      for (const res of results) {
        if (res.status !== 'completed') throw new Error(`run ${res.status}: ${res.error?.message}`);
        const out = res.output as { text: string; usage: { outputTokens: number } };
        if (out.usage.outputTokens !== tokensPerRun) throw new Error(`run made ${out.usage.outputTokens} tokens, expected ${tokensPerRun}`);
        expected.set(res.runId, out.text);
      }
      await arrived;
      tally.check(expected, tokensPerRun);
    },
    async close() {
      reader.unsubscribe();
      await publisher.close();
      await transport.close();
      await deleteTopics(setup.brokers, setup.prefix);
    },
  };
}

/**
 * W12: a worker (`createWorker` over `createKafkaTransport`, an llm `sim:fast`
 * topology, publishing tokens and lifecycle events as by default) and a client
 * (`createClient` on its own transport) submitting with `submitMany`.
 */
export async function kafkaWorker(setup: KafkaSetup, maxInFlight: number): Promise<KafkaWorkerBench> {
  const name = 'w12-answer';
  const t = topology(name).llm('answer', { model: 'sim:fast', prompt: (ctx: NodeContext) => (ctx.input as { q: string }).q }).build({ output: 'answer' });
  const workerTransport = createKafkaTransport({ brokers: setup.brokers, prefix: setup.prefix, clientId: 'bench-w12-worker' });
  const clientTransport = createKafkaTransport({ brokers: setup.brokers, prefix: setup.prefix, clientId: 'bench-w12-client' });
  const worker = createWorker({
    engine: createEngine(), transport: workerTransport, topologies: [t], maxInFlight, group: `${setup.prefix}.workers`, inbound: false, logger: silent,
  });
  await worker.start();
  const client = createClient(clientTransport);
  let round = 0;
  return {
    async roundTrip(n) {
      const r = round++;
      const ids = await client.submitMany(name, Array.from({ length: n }, (_, i) => ({ q: `${setup.prefix} round ${r} question ${i}` })));
      const deadline = performance.now() + 120_000;
      let have = 0;
      // Results come in through the client's reader; poll the count of those we wait for.
      for (;;) {
        while (have < ids.length && client.results.has(ids[have]!)) have++;
        if (have === ids.length) break;
        if (performance.now() > deadline) throw new Error(`${have}/${n} results after 120 s`);
        await sleep(1);
      }
      for (const id of ids) {
        const res = client.results.get(id)!;
        if (res.status !== 'completed') throw new Error(`request ${id} ${res.status}: ${res.error}`);
        if (res.output === null || !(JSON.parse(res.output) as { text?: string }).text) throw new Error(`request ${id} has no answer`);
      }
      if (client.duplicates > 0) setup.log(`${client.duplicates} duplicate results`);
    },
    async close() {
      await client.close();
      await worker.stop();
      await Promise.all([workerTransport.close(), clientTransport.close()]);
      await deleteTopics(setup.brokers, setup.prefix);
    },
  };
}
