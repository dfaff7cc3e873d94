// The Kafka fault suite (issue "Kafka under real faults"), on real brokers with `llmo worker` processes:
// 1. SIGKILL a worker 5 times under 2,000 runs with two workers: 0 lost, duplicates <= kills x maxInFlight,
//    every token stream of a completed run complete; the survivors then stop gracefully on SIGTERM.
// 2. Restart a PRIVATE broker twice under load (two workers): 0 lost results, 0 incomplete token streams of
//    completed runs, recovery without manual action (the workers stay up and report healthy again).
// 3. An oversize record, an unpublishable result and a poison request: each dead-lettered with its reason
//    while the worker keeps serving.
// Results, token batches and dead letters are counted by independent readers: a throwaway kafkajs consumer
// reads each topic directly up to its high watermarks (no group offsets, no client-side dedupe).
import { randomBytes } from 'node:crypto';
import { request as httpGet } from 'node:http';
import { freePort } from '../support/free-port.ts';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createCodec } from '../../src/transports/codec.ts';
import { createKafkaTransport, type KafkaTransport } from '../../src/transports/kafka/index.ts';
import { isRunEndMarker, RUN_ENDED, type MessageKind, type Messages, type RunRequestMessage, type RunResultMessage, type TokenBatchMessage } from '../../src/transports/messages.ts';
import { createClient, type Client } from '../../src/worker/client.ts';
import { startPrivateBroker, type PrivateBroker } from './private-broker.ts';
import {
  deleteTopics, groupLag, rawKafka, rawProducer, sleep, spawnWorker, uniquePrefix, waitFor, waitForTopics, type WorkerProcess,
} from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const TOKENS = 'test/kafka/fixtures/fault-tokens.ts';
const REQUESTS = 'test/kafka/fixtures/fault-requests.ts';
/** The broker's default message.max.bytes (the shared and the private broker keep it). */
const BROKER_MAX = 1_048_588;
const SESSION = ['--session-timeout-ms', '6000'];
const measure = (what: string, data: Record<string, unknown>): void => {
  process.stdout.write(`[measure] fault suite: ${what} ${JSON.stringify(data)}\n`);
};
const codec = createCodec();

/** Every record of `topic` up to its high watermarks now, decoded; read by a throwaway consumer that commits nothing. */
async function readTopic<K extends MessageKind>(kafka: Kafka, topic: string, kind: K, timeoutMs = 60_000): Promise<Messages[K][]> {
  const admin = kafka.admin();
  await admin.connect();
  const highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const waiting = new Set([...highs].filter(([, high]) => high > 0).map(([p]) => p));
  const out: Messages[K][] = [];
  const undecodable: string[] = [];
  if (waiting.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `fault-suite-reader-${randomBytes(6).toString('hex')}`, allowAutoTopicCreation: false, maxBytesPerPartition: 2 * 1024 * 1024 });
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const high = highs.get(partition) ?? 0;
        if (Number(message.offset) >= high) return;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        const d = codec.decode(kind, message.value, headers);
        if (d.ok) out.push(d.value);
        else undecodable.push(`${partition}/${message.offset}: ${d.reason}`);
        if (Number(message.offset) === high - 1) {
          waiting.delete(partition);
          if (waiting.size === 0) done();
        }
      },
    });
    await Promise.race([all, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`readTopic ${topic}: partitions ${[...waiting].join(', ')} not read to their end after ${timeoutMs} ms`)), timeoutMs); })]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  expect(undecodable, `undecodable records in ${topic}`).toEqual([]);
  return out;
}

/**
 * The completed results whose run's token stream is not complete: its batches (by run id) must number
 * the tokens 0, 1, 2, ... with no gap, join to the llm text of the output, count `usage.outputTokens`,
 * and end with an `ended` marker.
 */
function incompleteStreams(results: readonly RunResultMessage[], batches: readonly TokenBatchMessage[]): string[] {
  const byRun = new Map<string, TokenBatchMessage[]>();
  for (const b of batches) byRun.set(b.runId, [...(byRun.get(b.runId) ?? []), b]);
  return results.filter((r) => r.status === 'completed').flatMap((r) => {
    const mine = byRun.get(r.runId) ?? [];
    const text = (JSON.parse(r.output!) as { text: string }).text;
    const tokens = mine.filter((b) => !isRunEndMarker(b)).sort((a, b) => a.firstIndex - b.firstIndex);
    let next = 0;
    let joined = '';
    for (const b of tokens) {
      if (b.firstIndex !== next) return [`${r.requestId} (run ${r.runId}): token ${next} missing`];
      next += b.tokens.length;
      joined += b.tokens.join('');
    }
    if (next !== r.usage.outputTokens || joined !== text) return [`${r.requestId} (run ${r.runId}): ${next} of ${r.usage.outputTokens} tokens`];
    if (!mine.some((b) => isRunEndMarker(b) && b.restart === RUN_ENDED)) return [`${r.requestId} (run ${r.runId}): no end marker`];
    return [];
  });
}

/** Results by request id; the lost ids (no result) and the duplicates (results beyond the first). */
function tally(ids: readonly string[], results: readonly RunResultMessage[]): { lost: string[]; duplicates: number; byId: Map<string, RunResultMessage[]> } {
  const byId = new Map<string, RunResultMessage[]>();
  for (const r of results) byId.set(r.requestId, [...(byId.get(r.requestId) ?? []), r]);
  const lost = ids.filter((id) => !byId.has(id));
  const duplicates = [...byId.values()].reduce((n, rs) => n + rs.length - 1, 0);
  return { lost, duplicates, byId };
}

const requestsOf = (topologyName: string, ids: readonly string[], input: (i: number) => Record<string, unknown>): { key: string; value: RunRequestMessage }[] =>
  ids.map((requestId, i) => ({
    key: requestId,
    value: { requestId, topology: topologyName, input: JSON.stringify(input(i)), priority: 'normal', tenant: null, deadlineMs: null, createdAt: Date.now() },
  }));

async function stableGroup(admin: Admin, group: string, members: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => {
    const { groups: [g] } = await admin.describeGroups([group]);
    return g?.state === 'Stable' && g.members.length === members;
  }, `a stable group of ${members} workers`, timeoutMs, 200);
}

const alive = (w: WorkerProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;
const byWorker = (w: WorkerProcess) => (r: RunResultMessage): boolean => r.worker.endsWith(`-${w.pid}`);

/** What a worker's `/healthz` says: `<HTTP status> <report status>` (e.g. `200 degraded`), or `unreachable`. */
function healthz(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        let status = '?';
        try { status = String((JSON.parse(body) as { status?: unknown }).status); } catch { /* not JSON */ }
        resolve(`${res.statusCode ?? 0} ${status}`);
      });
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve('unreachable'));
    req.end();
  });
}

describe.skipIf(!brokers)('Kafka fault suite', () => {
  const kafka = rawKafka(brokers ?? '', 'fault-suite');
  const prefixes: string[] = [];
  const fresh = (tag: string): string => {
    const p = uniquePrefix(tag);
    prefixes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of prefixes) await deleteTopics(kafka, p);
  });

  describe('SIGKILL a worker 5 times under 2,000 runs with two `llmo worker` processes', () => {
    const KILLS = 5;
    const COUNT = 2_000;
    const N = 8; // maxInFlight
    const WAVE = COUNT / KILLS;
    const prefix = fresh('it-fs-kill');
    const group = `${prefix}.workers`;
    const transport = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'fault-suite-kill' });
    const admin = kafka.admin();
    const spawn = (): WorkerProcess => spawnWorker({ brokers: brokers!, prefix, group, maxInFlight: N, topology: TOKENS, args: SESSION });
    const workers: WorkerProcess[] = [];
    const killed: WorkerProcess[] = [];
    let client: Client | undefined;
    const ids = Array.from({ length: COUNT }, (_, n) => `kill-${n}`);

    beforeAll(async () => {
      await admin.connect();
      await transport.ensureTopics();
      await waitForTopics(admin, Object.values(transport.topics));
      workers.push(spawn(), spawn());
      await Promise.all(workers.map((w) => w.ready));
      // both members hold partitions before the load: the only rebalances are those the kills cause
      await stableGroup(admin, group, 2);
      client = createClient(transport);
    });

    afterAll(async () => {
      await client?.close();
      for (const w of [...workers, ...killed]) if (alive(w)) w.child.kill('SIGKILL');
      await Promise.all([...workers, ...killed].map((w) => w.exited));
      await transport.close();
      await admin.disconnect();
    });

    it(`0 lost of ${COUNT.toLocaleString('en')} runs, duplicates <= ${KILLS} kills x maxInFlight ${N}, every completed run's token stream complete`, async () => {
      const t0 = Date.now();
      const atKill: { victim: number; resultsSeen: number; victimResults: number }[] = [];
      for (let k = 0; k < KILLS; k++) {
        // a wave of requests, then the kill while the victim is serving it (runs hold 30 ms: several in flight)
        const wave = ids.slice(k * WAVE, (k + 1) * WAVE);
        await transport.send('request', requestsOf('fault-tokens', wave, (i) => ({ n: k * WAVE + i, ms: 30 })));
        const slot = k % 2;
        const victim = workers[slot]!;
        const served = (): number => wave.filter((id) => { const r = client!.results.get(id); return r !== undefined && byWorker(victim)(r); }).length;
        await waitFor(() => served() >= 20, `kill ${k + 1}: 20 results of the wave from the victim`, 60_000, 5);
        victim.child.kill('SIGKILL');
        atKill.push({ victim: victim.pid, resultsSeen: client!.results.size, victimResults: served() });
        expect(await victim.exited).toBe('SIGKILL');
        killed.push(victim);
        // a replacement, so that the next wave again meets two workers
        workers[slot] = spawn();
        await workers[slot].ready;
        await stableGroup(admin, group, 2);
      }
      await waitFor(() => ids.every((id) => client!.results.has(id)), `all ${COUNT} results`, 120_000, 100);
      // let the group commit what it redelivered, so that every duplicate there will be is in the topic
      await waitFor(async () => (await groupLag(admin, group, transport.topics.request)).lag === 0, 'the group to commit everything', 60_000, 250);
      const allMs = Date.now() - t0;

      const results = await readTopic(kafka, transport.topics.result, 'result');
      const batches = await readTopic(kafka, transport.topics.token, 'token');
      const { lost, duplicates, byId } = tally(ids, results);
      const incomplete = incompleteStreams(results, batches);
      const servedBy: Record<string, number> = {};
      for (const r of results) servedBy[r.worker] = (servedBy[r.worker] ?? 0) + 1;
      measure('kills', { requests: COUNT, kills: KILLS, maxInFlight: N, results: results.length, lost: lost.length, duplicates, tokenBatches: batches.length, incomplete: incomplete.length, atKill, servedBy, allMs });

      expect(lost).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(KILLS * N);
      expect(incomplete).toEqual([]);
      for (const [i, id] of ids.entries()) {
        for (const r of byId.get(id)!) {
          expect(r.status, id).toBe('completed');
          expect((JSON.parse(r.output!) as { n: number }).n, id).toBe(i);
        }
      }
      expect(killed.map((w) => w.pid)).toHaveLength(KILLS);
      expect(workers.every(alive)).toBe(true);
    }, 300_000);

    it('the surviving workers stop gracefully on SIGTERM (exit 0, each reports what it handled)', async () => {
      expect(killed).toHaveLength(KILLS); // the scenario above ran
      for (const w of workers) w.child.kill('SIGTERM');
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
      for (const w of workers) expect(w.stderr()).toMatch(/stopped after \d+ requests/);
    });
  });

  describe('restart a private broker twice under load (two `llmo worker` processes)', () => {
    const WAVES = 3;
    const WAVE = 200;
    let broker: PrivateBroker | undefined;
    let transport: KafkaTransport | undefined;
    const workers: WorkerProcess[] = [];
    const ports: number[] = [];

    beforeAll(async () => {
      broker = await startPrivateBroker({ name: 'fault-suite' });
    }, 240_000);

    afterAll(async () => {
      for (const w of workers) if (alive(w)) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await transport?.close();
      await broker?.dispose();
    }, 120_000);

    it('0 lost results, 0 incomplete token streams of completed runs; the workers recover by themselves (their health says so while the broker is away, up after)', async () => {
      const b = broker!;
      const prefix = uniquePrefix('it-fs-restart');
      const group = `${prefix}.workers`;
      const privateKafka = rawKafka(b.brokers, 'fault-suite-restart');
      transport = createKafkaTransport({ brokers: [b.brokers], prefix, clientId: 'fault-suite-restart' });
      await transport.ensureTopics();
      await waitForTopics(b.brokers, Object.values(transport.topics));
      for (let i = 0; i < 2; i++) {
        ports.push(await freePort());
        workers.push(spawnWorker({ brokers: b.brokers, prefix, group, maxInFlight: 8, topology: TOKENS, args: [...SESSION, '--health-port', String(ports[i])] }));
      }
      await Promise.all(workers.map((w) => w.ready));
      const t0 = Date.now();
      /** When each step was done, and when each /healthz change was seen, ms from the start (for the report). */
      const phases: Record<string, number> = {};
      const phase = (name: string): void => {
        let key = name;
        for (let k = 2; key in phases; k++) key = `${name} (${k})`;
        phases[key] = Date.now() - t0;
      };
      // what /healthz said, per worker, each change once
      const seen: string[][] = ports.map(() => []);
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const codes = await Promise.all(ports.map(healthz));
          codes.forEach((c, i) => {
            if (seen[i]!.at(-1) === c) return;
            seen[i]!.push(c);
            phase(`worker ${i + 1}: ${c}`);
          });
          await sleep(200);
        }
      })();
      const ids = Array.from({ length: WAVES * WAVE }, (_, n) => `restart-${n}`);
      let restarts = 0;
      try {
        const client = createClient(transport);
        try {
          for (let w = 0; w < WAVES; w++) {
            // a wave (runs hold 100 ms: 16 in flight, the wave lasts over a second), then a restart while it is served
            const wave = ids.slice(w * WAVE, (w + 1) * WAVE);
            await transport.send('request', requestsOf('fault-tokens', wave, (i) => ({ n: w * WAVE + i, ms: 100 })));
            phase(`wave ${w + 1} sent`);
            if (w === WAVES - 1) break;
            await waitFor(() => wave.filter((id) => client.results.has(id)).length >= 20, `wave ${w + 1} under way`, 60_000, 10);
            phase(`wave ${w + 1} under way`);
            await b.restart();
            restarts++;
            phase(`restart ${restarts} done`);
          }
          await waitFor(() => ids.every((id) => client.results.has(id)), `all ${ids.length} results after ${restarts} restarts`, 180_000, 200);
          phase('all results');
        } catch (e) {
          // what the client saw, what the result topic holds, and what the workers said
          const inTopic = await readTopic(privateKafka, transport.topics.result, 'result', 20_000).then((rs) => rs.length, (err: unknown) => String(err));
          // the worker's own lines (why it stopped), then its log tail
          const own = (w: WorkerProcess): string => w.stderr().split('\n').filter((l) => !l.startsWith('{')).join('\n');
          const tails = workers.map((w) => `worker ${w.pid} (${alive(w) ? 'alive' : `exited ${w.child.exitCode ?? w.child.signalCode}`}):\n${own(w)}\n${w.stderr().slice(-3000)}`);
          throw new Error(`${(e as Error).message}; client saw ${client.results.size}, the result topic holds ${inTopic}, /healthz ${JSON.stringify(seen)}, phases ${JSON.stringify(phases)}\n${tails.join('\n')}`);
        } finally {
          await client.close();
        }
        await waitFor(async () => {
          const admin = privateKafka.admin();
          await admin.connect();
          try {
            return (await groupLag(admin, group, transport!.topics.request)).lag === 0;
          } finally {
            await admin.disconnect();
          }
        }, 'the group to commit everything', 60_000, 250);
        phase('committed');
        await waitFor(() => seen.every((s) => s.at(-1) === '200 up'), 'both workers healthy again', 60_000, 100);
        phase('healthy');
      } finally {
        polling = false;
        await poller;
      }

      const results = await readTopic(privateKafka, transport.topics.result, 'result');
      const batches = await readTopic(privateKafka, transport.topics.token, 'token');
      const { lost, duplicates, byId } = tally(ids, results);
      const incomplete = incompleteStreams(results, batches);
      measure('broker restarts', { requests: ids.length, restarts, results: results.length, lost: lost.length, duplicates, tokenBatches: batches.length, incomplete: incomplete.length, healthz: seen, phases });

      expect(restarts).toBe(2);
      expect(lost).toEqual([]);
      expect(incomplete).toEqual([]);
      for (const [i, id] of ids.entries()) {
        for (const r of byId.get(id)!) {
          expect(r.status, id).toBe('completed');
          expect((JSON.parse(r.output!) as { n: number }).n, id).toBe(i);
        }
      }
      // recovery without manual action: both still up, red (503, or no answer) while the broker was away, green after
      expect(workers.every(alive)).toBe(true);
      // the workers said so while the broker was away (degraded while rejoining, or down), and are up after
      for (const s of seen) expect(s.at(-1)).toBe('200 up');
      expect(seen.some((s) => s.some((c) => c !== '200 up'))).toBe(true);
    }, 600_000);
  });

  describe('an oversize record, an unpublishable result and a poison request, one `llmo worker` process', () => {
    const prefix = fresh('it-fs-dl');
    const group = `${prefix}.workers`;
    const transport = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'fault-suite-dl' });
    let worker: WorkerProcess | undefined;
    let client: Client | undefined;

    beforeAll(async () => {
      await transport.ensureTopics();
      await waitForTopics(brokers!, Object.values(transport.topics));
      worker = spawnWorker({ brokers: brokers!, prefix, group, maxInFlight: 4, topology: REQUESTS, args: SESSION });
      await worker.ready;
      client = createClient(transport);
    });

    afterAll(async () => {
      await client?.close();
      if (worker && alive(worker)) worker.child.kill('SIGKILL');
      await worker?.exited;
      await transport.close();
    });

    it('each is dead-lettered once with its reason; the requests around them are answered; the worker keeps serving', async () => {
      const c = client!;
      const submit = (ids: readonly string[], input: (i: number) => Record<string, unknown>) => transport.send('request', requestsOf('fault-requests', ids, input));
      const answered = (ids: readonly string[], what: string, ms = 60_000) => waitFor(() => ids.every((id) => c.results.has(id)), what, ms, 25);
      const ok = (tag: string): string[] => Array.from({ length: 10 }, (_, i) => `${tag}-${i}`);
      // progress only: the dead letters are counted by readTopic below
      const deadKeys: string[] = [];
      const watching = transport.read('deadLetter', { fromBeginning: true }).subscribe((d) => deadKeys.push(d.value.key?.toString('utf8') ?? ''));
      onTestFinished(() => watching.unsubscribe());

      // 1. an oversize record: as large as the broker takes and undecodable; its dead letter (reason, topic,
      //    headers, offset added) cannot fit whole, so its payload is cut to fit
      const big = randomBytes(BROKER_MAX - 250);
      const producer = await rawProducer(kafka);
      try {
        await producer.send({ topic: transport.topics.request, acks: -1, messages: [{ key: 'oversize', value: big, headers: codec.encode('request', requestsOf('fault-requests', ['x'], () => ({ n: 0 }))[0]!.value).headers }] });
      } finally {
        await producer.disconnect();
      }
      await submit(ok('after-oversize'), (i) => ({ n: i }));
      await answered(ok('after-oversize'), 'the requests after the oversize record');

      // 2. an unpublishable result (1.2 MB, over the producer's 1 MB): a failed result says why, the request is dead-lettered
      await submit(['unpublishable'], () => ({ n: 1, kind: 'big' }));
      await submit(ok('after-unpublishable'), (i) => ({ n: i }));
      await answered(['unpublishable', ...ok('after-unpublishable')], 'the failed result and the requests after it');
      const failed = c.results.get('unpublishable')!;
      expect(failed.status).toBe('failed');
      expect(JSON.parse(failed.error!)).toMatchObject({ code: 'RESULT_TOO_LARGE', message: expect.stringMatching(/\d+ bytes.*limit of 1000000 bytes/) });

      // 3. a poison request: it blocks the worker's event loop past its 6 s session each time it is run, the
      //    member is expelled and the request comes back (its commit failed); past maxDeliveries (5) it is
      //    dead-lettered unhandled instead of expelling the member forever
      await submit(['poison'], () => ({ n: 2, kind: 'block', blockMs: 7_500 }));
      await submit(ok('after-poison'), (i) => ({ n: i }));
      await waitFor(() => deadKeys.includes('poison'), 'the poison request dead-lettered', 180_000, 100);
      await answered(ok('after-poison'), 'the requests after the poison request');

      // the worker keeps serving
      await submit(ok('last'), (i) => ({ n: i }));
      await answered(ok('last'), 'requests after all three');
      expect(alive(worker!)).toBe(true);

      const dead = await readTopic(kafka, transport.topics.deadLetter, 'deadLetter');
      const results = await readTopic(kafka, transport.topics.result, 'result');
      measure('dead letters', { dead: dead.map((d) => ({ key: d.key?.toString('utf8'), reason: d.reason.slice(0, 160), truncated: d.truncated, size: d.value?.length ?? 0 })), results: results.length });
      expect(dead.map((d) => d.key?.toString('utf8')).sort()).toEqual(['oversize', 'poison', 'unpublishable']);
      const of = (key: string) => dead.find((d) => d.key?.toString('utf8') === key)!;
      for (const d of dead) expect(d.topic).toBe(transport.topics.request);

      const oversize = of('oversize');
      expect(oversize.reason).toMatch(/^cannot decode request/);
      expect(oversize.truncated).toBe(true);
      expect(oversize.originalSize).toBe(big.length);
      expect(oversize.value!.length).toBeGreaterThan(900_000); // cut to fit, not dropped
      expect(oversize.value!.length).toBeLessThan(1_000_000); // under the producer's maxMessageBytes
      expect(oversize.value!.equals(big.subarray(0, oversize.value!.length))).toBe(true); // a prefix of the original

      const unpublishable = of('unpublishable');
      expect(unpublishable.reason).toMatch(/^handler failed \(not retriable\): RESULT_TOO_LARGE: request unpublishable: the result cannot be published: .*\d+ bytes/);
      expect(unpublishable.truncated).toBe(false);

      expect(of('poison').reason).toBe('redelivered 5 times');
      // each of the 5 deliveries ran to its end after the block (so it may have answered), the 6th was not run
      const poisonResults = results.filter((r) => r.requestId === 'poison');
      expect(poisonResults.length).toBeLessThanOrEqual(5);
      for (const r of poisonResults) expect(r.status).toBe('completed');

      // an answer for every request (the failed one included), none for the dead-lettered records; exactly one
      // for those answered before the poison (later ones may come twice: each expulsion redelivers what was not committed)
      const before = ['unpublishable', ...['after-oversize', 'after-unpublishable'].flatMap(ok)];
      expect(tally(before, results).byId.size).toBeGreaterThan(0);
      expect([...tally(before, results).byId].filter(([id, rs]) => before.includes(id) && rs.length !== 1)).toEqual([]);
      expect(tally([...before, ...['after-poison', 'last'].flatMap(ok)], results).lost).toEqual([]);
      expect(results.filter((r) => r.requestId === 'oversize')).toEqual([]);
    }, 300_000);
  });
});
