/**
 * Raw kafkajs request → reply, hand-written: the baseline of W12 and W12b. A
 * plain kafkajs consumer of requests (a consumer group, at most `maxInFlight`
 * handlers across partitions, an offset committed only once its result is sent
 * and every earlier offset of its partition is done) and a plain producer. Per
 * request it asks the same simulated provider (`sim:fast`, 48 tokens) and
 * publishes what our worker publishes for a one-`llm`-node run: one token batch,
 * four lifecycle events (run.started, node.started, node.completed,
 * run.completed) and the result. Bodies are JSON (ours are Avro); keys, topics
 * (6 partitions), producer settings (idempotent, one request in flight, acks
 * from all replicas) are the same as our transport's. The client side submits in
 * sends of 500 and reads results with a groupless consumer, as `createClient` does.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { createSimProvider } from '../../src/providers/sim.ts';
import type { ProviderEvent } from '../../src/providers/types.ts';
import { sleep } from '../lib/measure.ts';
import { deleteTopics } from './kafka-common.ts';
import { WORKER_GROUP, type KafkaSetup, type KafkaWorkerBench, type KafkaWorkerProcess } from './types.ts';

const PARTITIONS = 6;
const TOPOLOGY = 'w12-answer';

interface RawRequest { requestId: string; topology: string; input: string; priority: string; tenant: null; deadlineMs: null; createdAt: number }
interface RawResult { requestId: string; runId: string; status: string; output: string | null; error: string | null }

const topicsOf = (prefix: string) => ({
  request: `${prefix}.raw-requests`, result: `${prefix}.raw-results`, token: `${prefix}.raw-tokens`, event: `${prefix}.raw-events`,
});

const kafkaOf = (setup: KafkaSetup, clientId: string): Kafka =>
  new Kafka({ clientId, brokers: [...setup.brokers], logLevel: logLevel.NOTHING });

/** The producer settings of our transport's sender. */
async function producerOf(kafka: Kafka): Promise<Producer> {
  const p = kafka.producer({ maxInFlightRequests: 1, idempotent: true, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  return p;
}

async function createTopics(setup: KafkaSetup): Promise<void> {
  const admin = kafkaOf(setup, 'bench-w12-raw-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: Object.values(topicsOf(setup.prefix)).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })) });
  } finally {
    await admin.disconnect();
  }
}

/** A counting semaphore (FIFO). */
class Slots {
  active = 0;
  readonly #waiters: (() => void)[] = [];
  constructor(readonly max: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.max) { this.active++; return; }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next(); // the slot passes on
    else this.active--;
  }
}

/** The raw worker: consumes requests in group `<prefix>.workers` and answers each. */
export async function rawWorker(setup: KafkaSetup, maxInFlight: number): Promise<KafkaWorkerProcess> {
  const topics = topicsOf(setup.prefix);
  const kafka = kafkaOf(setup, 'bench-w12-raw-worker');
  const producer = await producerOf(kafka);
  const provider = createSimProvider();
  const worker = `${hostname()}-${process.pid}`;
  const handle = async (req: RawRequest): Promise<void> => {
    const startedAt = Date.now();
    const runId = randomUUID();
    const { q } = JSON.parse(req.input) as { q: string };
    const tokens: string[] = [];
    let usage: unknown;
    provider.stream({ model: 'fast', messages: [{ role: 'user', content: q }] }).subscribe({
      next: (e: ProviderEvent) => {
        if (e.type === 'text') tokens.push(e.text);
        else if (e.type === 'usage') usage = e.usage;
      },
    });
    const text = tokens.join('');
    const output = JSON.stringify({ text, usage });
    const ts = Date.now();
    const event = (type: string, seq: number, nodeId: string | null, data: unknown) => ({
      key: runId, value: JSON.stringify({ runId, topology: req.topology, type, seq, ts, nodeId, parentRunId: null, data: JSON.stringify(data) }),
    });
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        { topic: topics.token, messages: [{ key: runId, value: JSON.stringify({ runId, nodeId: 'answer', firstIndex: 0, tokens, restart: null, ts }) }] },
        {
          topic: topics.event,
          messages: [
            event('run.started', 0, null, { input: req.input }),
            event('node.started', 1, 'answer', { attempt: 1 }),
            event('node.completed', 2, 'answer', { output: { text, usage }, durationMs: ts - startedAt }),
            event('run.completed', 3, null, { output: { text, usage }, usage, durationMs: ts - startedAt }),
          ],
        },
      ],
    });
    const result = {
      requestId: req.requestId, runId, topology: req.topology, status: 'completed', output, outputs: JSON.stringify({ answer: { text, usage } }),
      error: null, usage, worker, startedAt, endedAt: Date.now(),
    };
    await producer.send({ topic: topics.result, acks: -1, messages: [{ key: req.requestId, value: JSON.stringify(result) }] });
  };

  const consumer: Consumer = kafka.consumer({
    groupId: WORKER_GROUP(setup.prefix), sessionTimeout: 10_000, heartbeatInterval: 2500, allowAutoTopicCreation: false, maxBytesPerPartition: 256 * 1024,
  });
  const slots = new Slots(maxInFlight);
  await consumer.connect();
  await consumer.subscribe({ topic: topics.request, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 8,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
      // commit after the result: resolve the finished prefix of the batch only, one commit at a time
      const offsets = batch.messages.map((m) => m.offset);
      const done = new Set<string>();
      let next = 0;
      let committing: Promise<void> | undefined;
      let again = false;
      const commit = (): void => {
        if (committing !== undefined) { again = true; return; }
        committing = commitOffsetsIfNecessary().catch(() => undefined).finally(() => {
          committing = undefined;
          if (again) { again = false; commit(); }
        });
      };
      const beat = setInterval(() => { heartbeat().catch(() => undefined); }, 1000);
      const running: Promise<void>[] = [];
      try {
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          await slots.acquire();
          running.push(handle(JSON.parse(m.value!.toString('utf8')) as RawRequest)
            .catch((e: unknown) => setup.log(`raw worker: request failed: ${String(e)}`))
            .finally(() => {
              slots.release();
              done.add(m.offset);
              const before = next;
              while (next < offsets.length && done.has(offsets[next]!)) resolveOffset(offsets[next++]!);
              if (next > before) commit();
            }));
        }
        await Promise.all(running);
      } finally {
        clearInterval(beat);
      }
    },
  });
  return {
    async close() {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    },
  };
}

/** The raw client: creates the topics, submits requests, reads results from the beginning. */
export async function rawClient(setup: KafkaSetup): Promise<KafkaWorkerBench> {
  const topics = topicsOf(setup.prefix);
  await createTopics(setup);
  const kafka = kafkaOf(setup, 'bench-w12-raw-client');
  const producer = await producerOf(kafka);
  const results = new Map<string, RawResult>();
  let duplicates = 0;
  const reader = kafka.consumer({ groupId: `${setup.prefix}.raw-reader.${randomUUID()}`, allowAutoTopicCreation: false });
  await reader.connect();
  await reader.subscribe({ topic: topics.result, fromBeginning: true });
  await reader.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const r = JSON.parse(message.value!.toString('utf8')) as RawResult;
      if (results.has(r.requestId)) duplicates++;
      else results.set(r.requestId, r);
    },
  });
  let round = 0;
  return {
    async roundTrip(n) {
      const r = round++;
      const reqs = Array.from({ length: n }, (_, i) => {
        const requestId = randomUUID();
        const value: RawRequest = {
          requestId, topology: TOPOLOGY, input: JSON.stringify({ q: `${setup.prefix} round ${r} question ${i}` }),
          priority: 'normal', tenant: null, deadlineMs: null, createdAt: Date.now(),
        };
        return { key: requestId, value: JSON.stringify(value) };
      });
      for (let i = 0; i < reqs.length; i += 500) await producer.send({ topic: topics.request, acks: -1, messages: reqs.slice(i, i + 500) });
      const deadline = performance.now() + 120_000;
      let have = 0;
      for (;;) {
        while (have < reqs.length && results.has(reqs[have]!.key)) have++;
        if (have === reqs.length) break;
        if (performance.now() > deadline) throw new Error(`${have}/${n} results after 120 s`);
        await sleep(1);
      }
      for (const { key } of reqs) {
        const res = results.get(key)!;
        if (res.status !== 'completed') throw new Error(`request ${key} ${res.status}: ${res.error}`);
        if (res.output === null || !(JSON.parse(res.output) as { text?: string }).text) throw new Error(`request ${key} has no answer`);
      }
      if (duplicates > 0) setup.log(`${duplicates} duplicate results`);
    },
    async close() {
      await reader.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await deleteTopics(setup.brokers, setup.prefix);
    },
  };
}

/** W12: the raw worker and the raw client in one process. */
export async function kafkaWorker(setup: KafkaSetup, maxInFlight: number): Promise<KafkaWorkerBench> {
  const client = await rawClient(setup);
  const worker = await rawWorker(setup, maxInFlight);
  return {
    roundTrip: (n) => client.roundTrip(n),
    async close() {
      await worker.close();
      await client.close();
    },
  };
}
