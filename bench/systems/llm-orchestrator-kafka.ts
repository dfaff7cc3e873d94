/**
 * llm-orchestrator over Kafka (W11, W12): the engine's token stream published
 * with `publishEvents` through `createKafkaTransport` and read back with the
 * transport's own reader; a worker fed by a client.
 * @module
 */
import { pino } from 'pino';
import { createEngine, topology, type AnyTopology, type NodeContext } from '../../src/index.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import type { Envelope, TokenBatchMessage, Transport } from '../../src/transports/index.ts';
import { createClient, createWorker, publishEvents } from '../../src/worker/index.ts';
import { sleep } from '../lib/measure.ts';
import { deleteTopics, promptOf, TokenTally } from './kafka-common.ts';
import { WORKER_GROUP, type KafkaSetup, type KafkaTokenBench, type KafkaWorkerBench, type KafkaWorkerProcess } from './types.ts';

const silent = pino({ level: 'silent' });

/** A transport that can create its topics ahead of time (`createKafkaTransport`, or another client's prototype). */
export type BenchTransport = Transport & { ensureTopics(): Promise<void> };
/** Makes the transport of one side (worker, client, reader) of a measurement. */
export type TransportFactory = (setup: KafkaSetup, clientId: string) => BenchTransport;

/** Our Kafka transport (kafkajs). */
export const kafkajsTransport: TransportFactory = (setup, clientId) => createKafkaTransport({ brokers: setup.brokers, prefix: setup.prefix, clientId });

/**
 * W11: an engine running an llm `sim:fast` topology; `publishEvents` (tokens only)
 * sends its token batches to the token topic; `transport.read('token')` reads them back.
 */
export async function kafkaTokens(setup: KafkaSetup, makeTransport: TransportFactory = kafkajsTransport): Promise<KafkaTokenBench> {
  const transport = makeTransport(setup, 'bench-w11-ours');
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

const W12_TOPOLOGY = 'w12-answer';
const w12Topology = (): AnyTopology =>
  topology(W12_TOPOLOGY).llm('answer', { model: 'sim:fast', prompt: (ctx: NodeContext) => (ctx.input as { q: string }).q }).build({ output: 'answer' });

/**
 * W12b worker side: a worker (`createWorker`, an llm `sim:fast` topology, publishing tokens and
 * lifecycle events as by default, feedback/policy consumers off) in group `<prefix>.workers`.
 */
export async function kafkaServe(setup: KafkaSetup, maxInFlight: number, makeTransport: TransportFactory = kafkajsTransport): Promise<KafkaWorkerProcess> {
  const transport = makeTransport(setup, 'bench-w12-worker');
  const worker = createWorker({
    engine: createEngine(), transport, topologies: [w12Topology()], maxInFlight, group: WORKER_GROUP(setup.prefix), inbound: false, logger: silent,
  });
  await worker.start();
  return {
    async close() {
      await worker.stop();
      await transport.close();
    },
  };
}

/**
 * W12b client side: `createClient` on its own transport, submitting with `submitMany`;
 * creates the topics first, deletes them on close.
 */
export async function kafkaClient(setup: KafkaSetup, makeTransport: TransportFactory = kafkajsTransport): Promise<KafkaWorkerBench> {
  const transport = makeTransport(setup, 'bench-w12-client');
  await transport.ensureTopics();
  const client = createClient(transport);
  let round = 0;
  return {
    async roundTrip(n) {
      const r = round++;
      const ids = await client.submitMany(W12_TOPOLOGY, Array.from({ length: n }, (_, i) => ({ q: `${setup.prefix} round ${r} question ${i}` })));
      const deadline = performance.now() + 120_000;
      let have = 0;
      // Results come in through the client's reader; poll the count of those we wait for.
      for (;;) {
        if (client.failure !== undefined) throw client.failure;
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
      await transport.close();
      await deleteTopics(setup.brokers, setup.prefix);
    },
  };
}

/**
 * W12: a worker (`createWorker` over the transport, an llm `sim:fast`
 * topology, publishing tokens and lifecycle events as by default) and a client
 * (`createClient` on its own transport) submitting with `submitMany`, in one process.
 */
export async function kafkaWorker(setup: KafkaSetup, maxInFlight: number, makeTransport: TransportFactory = kafkajsTransport): Promise<KafkaWorkerBench> {
  const client = await kafkaClient(setup, makeTransport);
  const worker = await kafkaServe(setup, maxInFlight, makeTransport);
  return {
    roundTrip: (n) => client.roundTrip(n),
    async close() {
      await worker.close();
      await client.close();
    },
  };
}
