/**
 * Raw kafkajs, hand-written: the baseline of the Kafka workloads (W11 here;
 * W12/W12b request → reply in kafkajs-worker.ts). It runs no DAGs. Tokens come from the same simulated provider, subscribed directly,
 * and go to one topic through a plain kafkajs producer; a plain kafkajs consumer
 * reads them back.
 * @module
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createSimProvider } from '../../src/providers/sim.ts';
import type { ProviderEvent } from '../../src/providers/types.ts';
import { deleteTopics, promptOf, TokenTally } from './kafka-common.ts';
import { kafkaWorker, rawClient, rawWorker } from './kafkajs-worker.ts';
import type { KafkaSetup, KafkaTokenBench, SystemAdapter } from './types.ts';

/** Tokens per message (`batched`) or per send (`per-token`): the publisher's default batch size. */
const BATCH = 256;
const PARTITIONS = 6; // as many as the transport gives its topics

const notDag = (): never => {
  throw new Error('kafkajs is the baseline of the Kafka workloads; it runs no DAGs');
};

/** The text tokens of one completion of `sim:fast` (it emits synchronously). */
function simTokens(provider: ReturnType<typeof createSimProvider>, prompt: string, maxTokens: number): string[] {
  const out: string[] = [];
  provider.stream({ model: 'fast', messages: [{ role: 'user', content: prompt }], maxTokens }).subscribe({
    next: (e: ProviderEvent) => { if (e.type === 'text') out.push(e.text); },
  });
  return out;
}

/**
 * W11 variants, one send in flight at a time (as the publisher's queue does), acks from all replicas:
 * - `batched`: 256 tokens per message as JSON (`{ runId, firstIndex, tokens }`), one message per send;
 * - `per-token`: one message per token (the token's text as the value), 256 messages per send.
 */
async function kafkaTokens(setup: KafkaSetup): Promise<KafkaTokenBench> {
  const kafka = new Kafka({ clientId: 'bench-w11-raw', brokers: [...setup.brokers], logLevel: logLevel.NOTHING });
  const topic = `${setup.prefix}.raw-tokens`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `${setup.prefix}.raw-reader`, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const tally = new TokenTally();
  let perToken = false;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const key = message.key!.toString('utf8');
      if (perToken) tally.add(key, undefined, [message.value!.toString('utf8')]);
      else {
        const b = JSON.parse(message.value!.toString('utf8')) as { runId: string; firstIndex: number; tokens: string[] };
        tally.add(b.runId, b.firstIndex, b.tokens);
      }
    },
  });
  const provider = createSimProvider();
  let round = 0;
  return {
    variants: ['batched', 'per-token'],
    async roundTrip(variant, runs, tokensPerRun) {
      if (variant !== 'batched' && variant !== 'per-token') throw new Error(`unknown variant ${variant}`);
      perToken = variant === 'per-token';
      const r = round++;
      const expected = new Map<string, string>();
      const arrived = tally.until(tally.total + runs * tokensPerRun);
      for (let i = 0; i < runs; i++) {
        const runId = `${setup.prefix}-${r}-${i}`;
        const tokens = simTokens(provider, promptOf(setup.prefix, r, i), tokensPerRun);
        if (tokens.length !== tokensPerRun) throw new Error(`the provider made ${tokens.length} tokens, expected ${tokensPerRun}`);
        expected.set(runId, tokens.join(''));
        for (let k = 0; k < tokens.length; k += BATCH) {
          const chunk = tokens.slice(k, k + BATCH);
          const messages = perToken
            ? chunk.map((text) => ({ key: runId, value: text }))
            : [{ key: runId, value: JSON.stringify({ runId, firstIndex: k, tokens: chunk }) }];
          await producer.send({ topic, acks: -1, messages });
        }
      }
      await arrived;
      tally.check(expected, tokensPerRun);
    },
    async close() {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await deleteTopics(setup.brokers, setup.prefix);
    },
  };
}

export const system: SystemAdapter = {
  id: 'kafkajs',
  chain: notDag,
  fan: notDag,
  pump: notDag,
  kafkaTokens,
  kafkaWorker,
  kafkaClient: rawClient,
  kafkaServe: rawWorker,
};
