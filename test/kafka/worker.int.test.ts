// Workers against a real broker: token batches on the token topic, backpressure with 100,000 waiting
// requests, commits of the finished prefix, and the typed inbound feedback/policy streams. At-least-once
// and failover between `llmo worker` processes SIGKILLed under load: fault-suite.int.test.ts.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { pino } from 'pino';
import { z } from 'zod';
import { topology } from '../../src/index.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { isRunEndMarker, type TokenBatchMessage } from '../../src/transports/messages.ts';
import type { Envelope } from '../../src/transports/transport.ts';
import { createClient } from '../../src/worker/client.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import {
  deleteTopics, gc, groupLag, heapMb, rawKafka, readN, readUntil, sampleMessages, sleep, uniquePrefix, waitFor, waitForTopics,
} from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const brokerList = (brokers ?? '').split(',');
const measure = (what: string, data: Record<string, unknown>): void => {
  process.stdout.write(`[measure] ${what} ${JSON.stringify(data)}\n`);
};

describe.skipIf(!brokers)('Kafka worker', () => {
  const kafka = rawKafka(brokers ?? '', 'worker-int');
  const prefixes: string[] = [];
  const fresh = (tag: string): string => {
    const p = uniquePrefix(tag);
    prefixes.push(p);
    return p;
  };

  afterAll(async () => {
    for (const p of prefixes) await deleteTopics(kafka, p);
  });

  describe('token batches', () => {
    const llmTopology = (name: string, model: string, maxTokens: number) =>
      topology(name, { input: z.object({ q: z.string() }) })
        .llm('gen', { model, maxTokens, prompt: ({ input }) => `Question: ${input.q}. Answer with streaming in mind.` })
        .build({ output: 'gen' });

    /** Serves `t` with one worker, submits the questions, reads the token topic back, and checks every run's tokens. */
    async function tokensOf(t: ReturnType<typeof llmTopology>, questions: string[], lingerMs?: number) {
      const prefix = fresh('it-tok');
      const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'tokens-int' });
      const engine = createEngine();
      const worker = createWorker({ engine, transport, topologies: [t], group: `${prefix}.w`, maxInFlight: 8, inbound: false, ...(lingerMs === undefined ? {} : { lingerMs }) });
      const client = createClient(transport);
      try {
        await worker.start();
        const results = await Promise.all(questions.map((q) => client.submit(t.name, { q })));
        for (const r of results) expect(r.status, r.error ?? '').toBe('completed');
        const texts = new Map(results.map((r) => [r.runId, (JSON.parse(r.output!) as { text: string }).text]));
        const wanted = results.reduce((n, r) => n + r.usage.outputTokens, 0);
        // Results are published after their run's tokens (the worker flushes first), so all tokens are there.
        // Each run's stream also ends with an end marker (no tokens, nodeId ''): checked, then left out.
        const read = await readUntil(transport.read('token', { fromBeginning: true }), (xs) =>
          xs.reduce((n, b) => n + b.value.tokens.length, 0) >= wanted && xs.filter((b) => isRunEndMarker(b.value)).length >= results.length);
        expect(new Set(read.filter((b) => isRunEndMarker(b.value)).map((b) => b.value.runId))).toEqual(new Set(results.map((r) => r.runId)));
        const batches = read.filter((b) => !isRunEndMarker(b.value));
        const byRun = new Map<string, Envelope<TokenBatchMessage>[]>();
        for (const b of batches) byRun.set(b.value.runId, [...(byRun.get(b.value.runId) ?? []), b]);
        expect([...byRun.keys()].sort()).toEqual([...texts.keys()].sort());
        for (const [runId, mine] of byRun) {
          expect(new Set(mine.map((b) => b.partition)).size, `${runId}: one partition`).toBe(1);
          expect(mine.every((b) => b.key === runId && b.value.nodeId === 'gen' && b.value.restart === null)).toBe(true);
          // Offset order is firstIndex order (one partition, one send queue), and the batches are contiguous.
          const byOffset = [...mine].sort((a, b) => Number(a.offset) - Number(b.offset));
          const byIndex = [...mine].sort((a, b) => a.value.firstIndex - b.value.firstIndex);
          expect(byOffset.map((b) => b.value.firstIndex)).toEqual(byIndex.map((b) => b.value.firstIndex));
          let next = 0;
          for (const b of byIndex) {
            expect(b.value.firstIndex).toBe(next);
            next += b.value.tokens.length;
          }
          expect(byIndex.flatMap((b) => b.value.tokens).join(''), runId).toBe(texts.get(runId));
        }
        const tokens = batches.reduce((n, b) => n + b.value.tokens.length, 0);
        return { runs: results.length, batches: batches.length, tokens, perBatch: tokens / batches.length, maxBatch: Math.max(...batches.map((b) => b.value.tokens.length)), transport, results };
      } finally {
        await client.close();
        await worker.stop();
        await engine.shutdown();
        await transport.close();
      }
    }

    it('sim:fast: each run\'s token batches concatenate to the llm output text, in one partition, many tokens per batch', async () => {
      const questions = ['why streams?', 'what is backpressure?', 'how do pools work?', 'what does a breaker do?', 'why Kafka?'];
      const m = await tokensOf(llmTopology('tok-fast', 'sim:fast', 300), questions);
      measure('tokens sim:fast', { runs: m.runs, batches: m.batches, tokens: m.tokens, tokensPerBatch: +m.perBatch.toFixed(1), maxBatch: m.maxBatch });
      expect(m.tokens).toBe(300 * questions.length);
      expect(m.perBatch).toBeGreaterThan(1);
      expect(m.maxBatch).toBeLessThanOrEqual(256); // publisher maxBatch
      expect(m.batches).toBeGreaterThanOrEqual(2 * questions.length); // 300 tokens need two batches of at most 256
    });

    it('sim:default (12 ms/token) with lingerMs 50: tokens still concatenate to the text, several per batch', async () => {
      const m = await tokensOf(llmTopology('tok-default', 'sim:default', 40), ['first question?', 'second question?', 'third question?'], 50);
      measure('tokens sim:default lingerMs=50', { runs: m.runs, batches: m.batches, tokens: m.tokens, tokensPerBatch: +m.perBatch.toFixed(2) });
      expect(m.perBatch).toBeGreaterThan(2);
    });

    it('sim:default with the default linger: batches carry more than one token on average', async () => {
      const m = await tokensOf(llmTopology('tok-default-linger', 'sim:default', 40), ['first question?', 'second question?', 'third question?']);
      measure('tokens sim:default default linger', { runs: m.runs, batches: m.batches, tokens: m.tokens, tokensPerBatch: +m.perBatch.toFixed(2) });
      expect(m.perBatch).toBeGreaterThan(1.5);
    });
  });

  describe('backpressure: 100,000 waiting requests, a slow worker with maxInFlight 8', () => {
    const N = 8;
    const TOTAL = 100_000;
    const prefix = fresh('it-bp');
    const group = `${prefix}.slow`;
    // kafkajs warnings and errors of this transport (e.g. produce retries), for the report.
    const kafkaLogs: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { kafkaLogs.push((JSON.parse(line) as { msg: string }).msg); } });
    const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'backpressure-int', logger });
    const admin: Admin = kafka.admin();
    let engine: Engine;
    let extraRecords = 0;
    let worker: Worker;
    // The gate every run waits at: closed until the test lets some (or all) runs through.
    const gate = { permits: 0, open: false, waiting: [] as (() => void)[], active: 0, maxActive: 0, entered: 0 };
    const pass = (): Promise<void> => {
      gate.entered++;
      gate.active++;
      gate.maxActive = Math.max(gate.maxActive, gate.active);
      const leave = (): void => { gate.active--; };
      if (gate.open) return Promise.resolve().then(leave);
      if (gate.permits > 0) {
        gate.permits--;
        return Promise.resolve().then(leave);
      }
      return new Promise<void>((r) => gate.waiting.push(r)).then(leave);
    };
    const openGate = (): void => {
      gate.open = true;
      for (const w of gate.waiting.splice(0)) w();
    };
    const slow = topology('slow', { input: z.object({ n: z.number() }) })
      .map('wait', { run: async ({ input }) => { await pass(); return input.n; } })
      .build({ output: 'wait' });
    let produced = 0;
    const produce = async (count: number): Promise<void> => {
      for (let done = 0; done < count; done += 1000) {
        const n = Math.min(1000, count - done);
        const batch = Array.from({ length: n }, (_, i) => {
          const k = produced + i;
          const requestId = `bp-${k}`;
          return { key: requestId, value: { requestId, topology: 'slow', input: `{"n":${k}}`, priority: 'normal' as const, tenant: null, deadlineMs: null, createdAt: Date.now() } };
        });
        await transport.send('request', batch);
        produced += n;
      }
    };
    let sampler: NodeJS.Timeout | undefined;
    const samples = { workerMax: 0, engineMax: 0, count: 0 };
    const startSampling = (): void => {
      sampler = setInterval(() => {
        samples.count++;
        samples.workerMax = Math.max(samples.workerMax, worker.inFlight);
        samples.engineMax = Math.max(samples.engineMax, engine.inFlight);
      }, 5);
    };

    beforeAll(async () => {
      await admin.connect();
      await transport.ensureTopics();
      await waitForTopics(admin, Object.values(transport.topics));
      engine = createEngine();
      worker = createWorker({ engine, transport, topologies: [slow], group, maxInFlight: N, publish: false, inbound: false });
      await worker.start();
    });

    afterAll(async () => {
      if (sampler) clearInterval(sampler);
      openGate();
      await worker?.stop();
      await engine?.shutdown({ mode: 'cancel' });
      await transport.close();
      await admin.disconnect();
    });

    it(`holds ${N} in flight while ${TOTAL.toLocaleString('en')} requests wait in Kafka: lag stays, heap does not grow`, async () => {
      startSampling();
      await produce(1_000);
      await waitFor(() => worker.inFlight === N && gate.active === N, `${N} runs waiting at the gate`);
      await sleep(500);
      const heapBefore = heapMb();
      const rssBefore = process.memoryUsage().rss / 2 ** 20;
      const t0 = Date.now();
      await produce(TOTAL - 1_000);
      const produceMs = Date.now() - t0;
      const high = (await admin.fetchTopicOffsets(transport.topics.request)).reduce((n, p) => n + Number(p.high), 0);
      // Normally exactly TOTAL. More means the transport's producer appended some records twice (see the report:
      // a retried multi-partition produce after NOT_LEADER_OR_FOLLOWER on fresh topics, non-idempotent producer).
      extraRecords = high - TOTAL;
      expect(extraRecords).toBeGreaterThanOrEqual(0);
      // Poll for a few seconds while the gate stays closed.
      const heapSamples: number[] = [];
      const pollUntil = Date.now() + 5_000;
      while (Date.now() < pollUntil) {
        expect(worker.inFlight).toBeLessThanOrEqual(N);
        expect(engine.inFlight).toBeLessThanOrEqual(N);
        heapSamples.push(process.memoryUsage().heapUsed / 2 ** 20);
        await sleep(100);
      }
      const lag = await groupLag(admin, group, transport.topics.request);
      const heapAfter = heapMb();
      const rssAfter = process.memoryUsage().rss / 2 ** 20;
      measure('backpressure (gate closed)', {
        produced: TOTAL, produceMs, maxInFlight: N, workerInFlightMax: samples.workerMax, engineInFlightMax: samples.engineMax,
        nodeActiveMax: gate.maxActive, runsStarted: gate.entered, samples: samples.count, committed: lag.committed, high: lag.high, lag: lag.lag,
        heapBeforeMb: +heapBefore.toFixed(1), heapAfterMb: +heapAfter.toFixed(1), heapGrowthMb: +(heapAfter - heapBefore).toFixed(1),
        heapSampledMaxMb: +Math.max(...heapSamples).toFixed(1), rssBeforeMb: +rssBefore.toFixed(0), rssAfterMb: +rssAfter.toFixed(0), gcExposed: gc() !== undefined,
        extraRecords, kafkaLogs: [...new Set(kafkaLogs)],
      });
      expect(samples.workerMax).toBe(N);
      expect(samples.engineMax).toBeLessThanOrEqual(N);
      expect(gate.maxActive).toBe(N);
      expect(gate.entered).toBe(N); // nothing else started while the gate was closed
      expect(worker.handled).toBe(0);
      expect(lag.high).toBe(TOTAL + extraRecords);
      expect(lag.lag).toBe(lag.high); // nothing finished, nothing committed
      // 100k decoded requests held in memory would take well over 50 MB; the fetcher holds at most a batch per partition.
      expect(heapAfter - heapBefore).toBeLessThan(20);
    });

    it('once the gate opens, still at most 8 in flight; results flow and the committed offset advances (first 20,000)', async () => {
      const target = 20_000;
      const client = createClient(transport);
      try {
        const t0 = Date.now();
        openGate();
        await waitFor(() => worker.handled >= target, `${target} results`, 150_000, 50);
        const ms = Date.now() - t0;
        await waitFor(() => client.results.size >= target, `${target} results read back`, 60_000, 50);
        const lag = await groupLag(admin, group, transport.topics.request);
        measure('backpressure (gate open)', {
          handled: worker.handled, ms, runsPerSec: Math.round((worker.handled / ms) * 1000), workerInFlightMax: samples.workerMax,
          engineInFlightMax: samples.engineMax, nodeActiveMax: gate.maxActive, committed: lag.committed, lag: lag.lag, heapMb: +heapMb().toFixed(1),
        });
        expect(samples.workerMax).toBe(N);
        expect(samples.engineMax).toBeLessThanOrEqual(N);
        expect(gate.maxActive).toBeLessThanOrEqual(N);
        expect(lag.committed).toBeGreaterThan(0);
        expect(lag.lag).toBeLessThan(TOTAL + extraRecords);
        expect(lag.committed).toBeLessThanOrEqual(worker.handled);
        const some = [...client.results.values()].slice(0, 100);
        for (const r of some) {
          expect(r.status).toBe('completed');
          expect(r.output).toBe(r.requestId.slice(3));
        }
        expect(client.duplicates).toBeLessThanOrEqual(extraRecords); // only duplicated request records answer twice
      } finally {
        await client.close();
      }
    }, 240_000);
  });

  describe('committed offsets while handlers run', () => {
    it('commits the finished prefix while later messages are in flight (300 in one partition, 200 done, 8 held)', async () => {
      const prefix = fresh('it-commit');
      const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'commit-int', partitions: 1 });
      const admin = kafka.admin();
      await admin.connect();
      const held: (() => void)[] = [];
      let done = 0;
      let consumption: Awaited<ReturnType<typeof transport.consume>> | undefined;
      try {
        await transport.ensureTopics();
        const sample = sampleMessages().request;
        await transport.send('request', Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: { ...sample, requestId: `c-${i}` } })));
        consumption = await transport.consume('request', { group: `${prefix}.g`, maxInFlight: 8 }, async (msg) => {
          if (Number(msg.offset) >= 200) await new Promise<void>((r) => held.push(r));
          done++;
        });
        await waitFor(() => done === 200 && held.length === 8, '200 done and 8 held', 30_000);
        let lag = await groupLag(admin, `${prefix}.g`, transport.topics.request);
        const deadline = Date.now() + 5_000;
        while (lag.committed < 200 && Date.now() < deadline) {
          await sleep(250);
          lag = await groupLag(admin, `${prefix}.g`, transport.topics.request);
        }
        measure('commit window', { done, inFlight: consumption.inFlight, committed: lag.committed, wouldRedeliverOnCrash: 300 - lag.committed - (300 - 208) });
        expect(lag.committed).toBeGreaterThanOrEqual(200);
      } finally {
        for (const r of held.splice(0)) r();
        await consumption?.stop();
        await transport.close();
        await admin.disconnect();
      }
    });
  });

  describe('inbound streams', () => {
    it('valid feedback and policy updates sent through transport.send arrive typed on worker.feedback$ / policies$', async () => {
      const prefix = fresh('it-in');
      const transport = createKafkaTransport({ brokers: brokerList, prefix, clientId: 'inbound-int' });
      const engine = createEngine();
      const worker = createWorker({ engine, transport, topologies: [topology('noop').map('a', { run: () => 1 }).build()], group: `${prefix}.w`, publish: false });
      const s = sampleMessages();
      const feedback: typeof s.feedback[] = [];
      const policies: typeof s.policy[] = [];
      worker.feedback$.subscribe((f) => feedback.push(f));
      worker.policies$.subscribe((p) => policies.push(p));
      try {
        await worker.start();
        const fbs = Array.from({ length: 20 }, (_, i) => ({ ...s.feedback, feedbackId: `fb-${i}`, score: i / 20, comment: i % 2 === 0 ? null : `c${i}` }));
        const pols = Array.from({ length: 5 }, (_, i) => ({ ...s.policy, policyId: `p-${i}`, version: i, params: { temperature: String(i / 10), model: '"sim:fast"' } }));
        await transport.send('feedback', fbs.map((value) => ({ key: value.topology, value })));
        await transport.send('policy', pols.map((value) => ({ key: value.target, value })));
        await waitFor(() => feedback.length === 20 && policies.length === 5, 'all feedback and policies');
        expect(feedback).toEqual(fbs); // one key: one partition, in order
        expect(policies).toEqual(pols);
        const f: typeof s.feedback = feedback[3]!;
        expect(typeof f.score).toBe('number');
        expect(f.comment).toBe('c3');
        expect(policies[2]!.params).toEqual({ temperature: '0.2', model: '"sim:fast"' });
        const dead = await readN(transport, 'deadLetter', 0, 1_000).catch(() => []);
        expect(dead).toEqual([]);
      } finally {
        await worker.stop();
        await engine.shutdown();
        await transport.close();
      }
      // stop() completes the streams.
      let completed = false;
      worker.feedback$.subscribe({ complete: () => { completed = true; } });
      expect(completed).toBe(true);
    });
  });
});
