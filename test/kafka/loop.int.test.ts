// A worker's feedback loop across a real broker. An outside evaluator (raw kafkajs + plain avsc, none of our
// transport code) reads the evaluation requests a worker publishes and answers with feedback in Avro
// single-object encoding; that feedback reaches the worker's loop and steers its bandit. A worker started
// after policies were published serves its first request with the current version; an invalid update is
// dead-lettered with the reason and the previous version stays current.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, createSimProvider, topology } from '../../src/index.ts';
import { createKafkaTransport, type KafkaTransport } from '../../src/transports/kafka/index.ts';
import type { EvaluationRequestMessage, FeedbackMessage, PolicyUpdateMessage } from '../../src/transports/messages.ts';
import { createClient, type Client } from '../../src/worker/client.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { createFakeLoop, type FakeLoop } from './fake-loop.ts';
import { deleteTopics, rawKafka, rawProducer, rawRead, uniquePrefix, waitFor } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const brokerList = (brokers ?? '').split(',');

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:cheap', prompt: ({ input }) => input.q, maxTokens: 4 })
  .build({ output: 'answer' });

const schemaOf = (file: string): avro.Type =>
  avro.Type.forSchema(JSON.parse(readFileSync(new URL(`../../src/transports/schemas/${file}`, import.meta.url), 'utf8')) as avro.Schema);

/** CRC-64-AVRO of a schema's canonical form, bit by bit from the spec (shares no code with src/transports/crc64.ts). */
function specRabin(text: string): Buffer {
  const POLY = 0xc15d213aa4d7a795n;
  let fp = POLY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp ^= BigInt(byte);
    for (let i = 0; i < 8; i++) fp = (fp >> 1n) ^ (POLY & -(fp & 1n));
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out;
}

/** What an outside client writes: Avro single-object encoding (C3 01, fingerprint, body), no headers. */
function singleObject(type: avro.Type, value: unknown): Buffer {
  return Buffer.concat([Buffer.from([0xc3, 0x01]), specRabin(JSON.stringify(type.schema())), type.toBuffer(value)]);
}

const policy = (version: number, nodes: unknown): PolicyUpdateMessage => ({
  policyId: `opt-${version}`, version, target: 'qa', params: { nodes: JSON.stringify(nodes) }, reason: `step ${version}`, ts: Date.now(),
});

describe.skipIf(!brokers)('Kafka: a worker with a feedback loop', () => {
  const kafka = rawKafka(brokers ?? '', 'loop-int');
  const prefixes: string[] = [];
  const running: { worker: Worker; client: Client; transport: KafkaTransport }[] = [];

  /** A transport, a worker with `loop` on it (started), and a client. */
  async function serve(prefix: string, loop: FakeLoop, id: string) {
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: `loop-int-${id}` });
    const models = createModels({ providers: [createSimProvider({ models: { cheap: { ttftMs: 0, tokenMs: 0 }, good: { ttftMs: 0, tokenMs: 0 } } })] });
    const engine = createEngine({ models, loop });
    const worker = createWorker({ engine, transport, topologies: [qa], loop, workerId: id, publish: false });
    const client = createClient(transport);
    running.push({ worker, client, transport });
    await worker.start();
    await client.ready();
    return { transport, worker, client };
  }

  afterAll(async () => {
    for (const r of running) {
      await r.client.close().catch(() => undefined);
      await r.worker.stop().catch(() => undefined);
      await r.transport.close().catch(() => undefined);
    }
    for (const p of prefixes) await deleteTopics(kafka, p);
  });

  it('a reader from the beginning says when it caught up: at once on an empty topic, after the last record of every partition otherwise', async () => {
    const prefix = uniquePrefix('it-loop-catch');
    prefixes.push(prefix);
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'loop-int-catch' });
    running.push({ worker: { stop: async () => undefined } as unknown as Worker, client: { close: async () => undefined } as unknown as Client, transport });
    await transport.ensureTopics();
    const readToEnd = (): Promise<string[]> => new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const sub = transport.read('policy', {
        fromBeginning: true,
        onCaughtUp: () => {
          sub.unsubscribe();
          resolve(seen);
        },
      }).subscribe({ next: (m) => seen.push(`${m.value.target}@${m.value.version}`), error: reject });
    });
    expect(await readToEnd()).toEqual([]);
    // 20 targets: keys spread over the 6 partitions
    const targets = Array.from({ length: 20 }, (_, i) => `t${i}`);
    await transport.send('policy', targets.flatMap((t) => [1, 2].map((v) => ({ key: t, value: { ...policy(v, {}), target: t } }))));
    const seen = await readToEnd();
    expect(seen).toHaveLength(40);
    for (const t of targets) expect(seen.filter((x) => x.startsWith(`${t}@`))).toEqual([`${t}@1`, `${t}@2`]);
  });

  it('an outside evaluator reads evaluation requests with plain avsc and its feedback (single-object, raw kafkajs) steers the bandit', async () => {
    const prefix = uniquePrefix('it-loop-fb');
    prefixes.push(prefix);
    const loop = createFakeLoop({ topology: 'qa', nodes: ['answer'], bandit: { node: 'answer', models: ['sim:cheap', 'sim:good'], metric: 'correct' } });
    const { transport, worker, client } = await serve(prefix, loop, 'w-fb');
    const explored = [await client.submit('qa', { q: 'one' }), await client.submit('qa', { q: 'two' })];
    for (const r of explored) expect(r.status, r.error ?? '').toBe('completed');
    expect(loop.decided.map((d) => d.decision.arms?.answer)).toEqual(['sim:cheap', 'sim:good']);

    // the evaluator: raw records of the evaluations topic, llmo framing (Avro body), decoded with the schema file alone
    const requestType = schemaOf('evaluation-request.v1.avsc');
    const raw = await rawRead(kafka, [transport.topics.evaluation], 2, 60_000);
    const requests = raw.map((r) => requestType.fromBuffer(r.value!) as EvaluationRequestMessage);
    expect(requests.map((r) => r.runId).sort()).toEqual(explored.map((r) => r.runId).sort());
    for (const [i, r] of raw.entries()) expect(r.key).toBe(requests[i]!.runId);
    const good = requests.find((r) => r.models['answer'] === 'sim:good')!;
    expect(good).toMatchObject({ topology: 'qa', arms: { answer: 'sim:good' }, status: 'completed', nodeId: null, input: JSON.stringify({ q: 'two' }) });
    expect(good.evaluationId).toBe(good.runId);

    // ... judges: sim:good is right, sim:cheap is not
    const feedbackType = schemaOf('feedback.v3.avsc');
    const producer = await rawProducer(kafka);
    try {
      await producer.send({
        topic: transport.topics.feedback,
        messages: requests.map((r) => {
          const fb: FeedbackMessage = {
            feedbackId: `ext-${r.evaluationId}`, topology: r.topology, runId: r.runId, nodeId: null, model: r.models['answer'] ?? null, metric: 'correct',
            score: r.models['answer'] === 'sim:good' ? 1 : 0, source: 'outside-bench', ts: Date.now(), comment: null, label: r.models['answer'] === 'sim:good' ? 'pass' : 'fail',
          };
          return { key: r.runId, value: singleObject(feedbackType, fb) };
        }),
      });
    } finally {
      await producer.disconnect();
    }
    await waitFor(() => loop.counters().joined === 2, 'the outside feedback joined to both runs', 60_000);
    expect(worker.loopStats?.feedback).toBe(2);

    const after = [];
    for (let i = 0; i < 4; i++) after.push(await client.submit('qa', { q: `again ${i}` }));
    expect(loop.decided.slice(2).map((d) => d.decision.arms?.answer)).toEqual(['sim:good', 'sim:good', 'sim:good', 'sim:good']);
    // experience records for the bandit's runs, decodable with the schema file alone
    const experienceType = schemaOf('experience.v1.avsc');
    const xs = (await rawRead(kafka, [transport.topics.experience], 2, 60_000)).map((r) => experienceType.fromBuffer(r.value!) as { arm: string; reward: number });
    expect(xs.map((x) => [x.arm, x.reward]).sort()).toEqual([['sim:cheap', 0], ['sim:good', 1]]);
  });

  it('a worker started after policies were published serves its first request with the current version; an invalid update is dead-lettered and the previous version stays', async () => {
    const prefix = uniquePrefix('it-loop-pol');
    prefixes.push(prefix);
    const publisher = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'loop-int-optimizer' });
    running.push({ worker: { stop: async () => undefined } as unknown as Worker, client: { close: async () => undefined } as unknown as Client, transport: publisher });
    await publisher.ensureTopics();
    await publisher.send('policy', [
      { key: 'qa', value: policy(1, { answer: { temperature: 0.7 } }) },
      { key: 'qa', value: policy(2, { answer: { model: 'sim:good', temperature: 0.2 } }) },
    ]);

    const loop = createFakeLoop({ topology: 'qa', nodes: ['answer'] });
    const { worker, client } = await serve(prefix, loop, 'w-late');
    // before serving anything, the loop has the current version
    expect(loop.policies('qa').map((p) => p.version)).toEqual([2]);
    const first = await client.submit('qa', { q: 'first' });
    expect(first.status, first.error ?? '').toBe('completed');
    expect(loop.decided[0]!.decision).toMatchObject({ policyVersion: 2, overrides: { answer: { model: 'sim:good', temperature: 0.2 } } });

    // an update naming a node the topology does not have: refused, dead-lettered once with the reason
    await publisher.send('policy', [{ key: 'qa', value: policy(3, { summarize: { model: 'sim:cheap' } }) }]);
    await waitFor(() => worker.loopStats?.policiesRefused === 1, 'the invalid update refused', 60_000);
    const dead = await rawRead(kafka, [publisher.topics.deadLetter], 1, 60_000);
    const deadType = schemaOf('dead-letter.v2.avsc');
    const letter = deadType.fromBuffer(dead[0]!.value!) as { topic: string; reason: string; key: Buffer | null };
    expect(letter.topic).toBe(publisher.topics.policy);
    expect(letter.key?.toString('utf8')).toBe('qa');
    expect(letter.reason).toContain('policy update qa v3 (opt-3) refused by the loop; the previous version stays');
    expect(letter.reason).toContain("params.nodes.summarize: no llm node 'summarize' in qa");
    expect(loop.policies('qa').map((p) => p.version)).toEqual([2]);
    await client.submit('qa', { q: 'second' });
    expect(loop.decided[1]!.decision.policyVersion).toBe(2);

    // a valid update after it applies live
    await publisher.send('policy', [{ key: 'qa', value: policy(4, { answer: { model: 'sim:cheap' } }) }]);
    await waitFor(() => loop.policies('qa')[0]?.version === 4, 'v4 applied', 60_000);
    await client.submit('qa', { q: 'third' });
    expect(loop.decided[2]!.decision.policyVersion).toBe(4);
    expect(worker.loopStats).toMatchObject({ policiesApplied: 3, policiesRefused: 1 });
  });
});
