// Durable runs over Kafka (issue 11, item 2): two `llmo worker --store postgres://...` processes share a real
// PostgreSQL database and serve a ten-node topology with simulated model calls; one of them is SIGKILLed 5 times
// under 300 requests (and restarted each time). A redelivered request resumes its run from the shared store on
// whichever worker gets it (or gets its stored result again); after every other kill the survivor alone serves
// the redelivered requests before the victim is replaced (so runs are resumed through their requests, not only by
// the replacement's recovery on start). Afterwards:
// - every request has a result, and several results of one request are identical re-publications;
// - every run completed exactly once in the store, and no node of a run has two `node.completed` events;
// - no node call started after the node was recorded completed (completed nodes are never executed again:
//   each call is logged by the fixture, with its time, to a side file).
// Results are read back by an independent topic reader (no client-side dedupe).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEngine } from '../../src/runtime/engine.ts';
import type { RunStore, StoredEvent } from '../../src/runtime/store.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { createCodec } from '../../src/transports/codec.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import type { RunResultMessage } from '../../src/transports/messages.ts';
import { createClient, type Client } from '../../src/worker/client.ts';
import { tenNodes } from '../durable/fixtures/ten.ts';
import { deleteTopics, groupLag, rawKafka, uniquePrefix, waitFor, waitForTopics } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const pgUrl: string = inject('pgUrl');
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TOPOLOGY = 'test/kafka/fixtures/durable-ten.ts';
const KILLS = 5;
const COUNT = 300;
const N = 8; // maxInFlight of each worker
const WAVE = COUNT / KILLS;
const measure = (what: string, data: Record<string, unknown>): void => {
  process.stdout.write(`[measure] durable worker: ${what} ${JSON.stringify(data)}\n`);
};

/** What the durable side of a worker logged (its info lines), counted as they stream. */
interface Seen { resumed: number; republished: number; waited: number; recoveredOnStart: number }

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | string>;
  stderr(): string;
}

/** `node bin/llmo.mjs worker <fixture> --store <db> ...`, logging at info (the durable decisions are counted in `seen`). */
function spawnWorker(o: { prefix: string; group: string; store: string; calls: string }, seen: Seen): WorkerProcess {
  const child = spawn(process.execPath, [
    'bin/llmo.mjs', 'worker', TOPOLOGY, '--brokers', brokers!, '--prefix', o.prefix, '--group', o.group, '--max-in-flight', String(N),
    '--session-timeout-ms', '6000', '--store', o.store,
  ], { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'info', LLMO_TEST_CALLS: o.calls }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let partial = '';
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  ready.catch(() => undefined);
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-65_536);
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.includes('resuming its run from the store')) seen.resumed++;
      else if (line.includes('publishing its stored result')) seen.republished++;
      else if (line.includes('waiting for it')) seen.waited++;
      const rec = /^recovered (\d+) run\(s\)/.exec(line);
      if (rec !== null) seen.recoveredOnStart += Number(rec[1]);
      if (/worker \S+ serving '/.test(line)) readyResolve();
    }
  });
  const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => {
    res(code ?? signal ?? 'unknown');
    readyReject(new Error(`worker ${child.pid} exited (${code ?? signal}) before it was ready:\n${err}`));
  }));
  return { child, pid: child.pid!, ready, exited, stderr: () => err };
}

const alive = (w: WorkerProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;

/** Every result record of `topic` up to its high watermarks now, decoded by a throwaway reader that commits nothing. */
async function readResults(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<RunResultMessage[]> {
  const codec = createCodec();
  const admin = kafka.admin();
  await admin.connect();
  const highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const waiting = new Set([...highs].filter(([, high]) => high > 0).map(([p]) => p));
  const out: RunResultMessage[] = [];
  if (waiting.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `durable-reader-${randomBytes(6).toString('hex')}`, allowAutoTopicCreation: false });
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
        const d = codec.decode('result', message.value, headers);
        if (!d.ok) throw new Error(`undecodable result ${partition}/${message.offset}: ${d.reason}`);
        out.push(d.value);
        if (Number(message.offset) === high - 1) {
          waiting.delete(partition);
          if (waiting.size === 0) done();
        }
      },
    });
    await Promise.race([all, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`partitions ${[...waiting].join(', ')} of ${topic} not read to their end`)), timeoutMs); })]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return out;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Every run of the store (paged) with its history. */
async function everyRun(store: RunStore): Promise<Map<string, { status: string; events: StoredEvent[] }>> {
  const runs = new Map<string, { status: string; events: StoredEvent[] }>();
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const r of page.runs) runs.set(r.runId, { status: r.status, events: await store.history(r.runId) });
    cursor = page.next;
  } while (cursor !== undefined);
  return runs;
}

describe.skipIf(!brokers || pgUrl === '')('durable runs over Kafka: two `llmo worker --store postgres://` processes, one SIGKILLed 5 times', () => {
  const kafka = rawKafka(brokers ?? '', 'durable-worker');
  const prefix = uniquePrefix('it-kdur');
  const group = `${prefix}.workers`;
  const database = `llmo_kdur_${process.pid}_${randomBytes(3).toString('hex')}`;
  const dbUrl = (() => {
    if (pgUrl === '') return '';
    const u = new URL(pgUrl);
    u.pathname = `/${database}`;
    return u.toString();
  })();
  const tmp = mkdtempSync(path.join(tmpdir(), 'llmo-kdur-'));
  const calls = path.join(tmp, 'calls.log');
  const transport = createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'durable-worker-int' });
  const kadmin: Admin = kafka.admin();
  const seen: Seen = { resumed: 0, republished: 0, waited: 0, recoveredOnStart: 0 };
  const spawnOne = (): WorkerProcess => spawnWorker({ prefix, group, store: dbUrl, calls }, seen);
  const workers: WorkerProcess[] = [];
  const killed: WorkerProcess[] = [];
  let client: Client | undefined;
  let store: RunStore | undefined;
  const ids = Array.from({ length: COUNT }, (_, n) => `kdur-${n}`);

  const stableGroup = (members: number): Promise<void> => waitFor(async () => {
    const { groups: [g] } = await kadmin.describeGroups([group]);
    return g?.state === 'Stable' && g.members.length === members;
  }, `a stable group of ${members} workers`, 60_000, 200);

  beforeAll(async () => {
    await admin((c) => c.query(`CREATE DATABASE "${database}"`));
    // migrations run once here, before two workers open the store at once
    store = await createPostgresStore({ url: dbUrl });
    await kadmin.connect();
    await transport.ensureTopics();
    await waitForTopics(kadmin, Object.values(transport.topics));
    workers.push(spawnOne(), spawnOne());
    await Promise.all(workers.map((w) => w.ready));
    await stableGroup(2);
    client = createClient(transport);
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    for (const w of [...workers, ...killed]) if (alive(w)) w.child.kill('SIGKILL');
    await Promise.all([...workers, ...killed].map((w) => w.exited));
    await store?.close();
    await transport.close();
    await kadmin.disconnect().catch(() => undefined);
    await deleteTopics(kafka, prefix);
    if (pgUrl !== '') await admin((c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it(`every one of ${COUNT} requests gets one result (or identical re-publications); every run completed once; completed nodes never ran again`, async () => {
    const t0 = Date.now();
    const atKill: { victim: number; resultsSeen: number; callsLogged: number }[] = [];
    const callLines = (): number => { try { return readFileSync(calls, 'utf8').split('\n').length - 1; } catch { return 0; } };
    for (let k = 0; k < KILLS; k++) {
      const wave = ids.slice(k * WAVE, (k + 1) * WAVE);
      await transport.send('request', wave.map((requestId, i) => ({
        key: requestId,
        value: { requestId, topology: 'ten', input: JSON.stringify({ i: k * WAVE + i }), priority: 'normal' as const, tenant: null, deadlineMs: null, createdAt: Date.now() },
      })));
      const slot = k % 2;
      const victim = workers[slot]!;
      const served = (): number => wave.filter((id) => client!.results.get(id)?.worker.endsWith(`-${victim.pid}`) === true).length;
      // the victim has answered a few of the wave and holds more in flight (each run takes ~150 ms)
      await waitFor(() => served() >= 3, `kill ${k + 1}: 3 results of the wave from the victim`, 60_000, 5);
      victim.child.kill('SIGKILL');
      atKill.push({ victim: victim.pid, resultsSeen: client!.results.size, callsLogged: callLines() });
      expect(await victim.exited).toBe('SIGKILL');
      killed.push(victim);
      if (k % 2 === 1) {
        // the survivor alone gets the victim's partitions: the redelivered requests of the runs the victim
        // left mid-run are resumed from the store there (the dead owner's leases are claimed at once)
        await stableGroup(1);
        await waitFor(() => wave.every((id) => client!.results.has(id)), `kill ${k + 1}: the wave answered by the survivor`, 60_000, 20);
      }
      workers[slot] = spawnOne(); // recovers the runs the dead worker left (if still unclaimed) on start, then serves
      await workers[slot].ready;
      await stableGroup(2);
    }
    await waitFor(() => ids.every((id) => client!.results.has(id)), `all ${COUNT} results`, 120_000, 100);
    await waitFor(async () => (await groupLag(kadmin, group, transport.topics.request)).lag === 0, 'the group to commit everything', 60_000, 250);
    const allMs = Date.now() - t0;

    // 1. results: one per request; several only as identical re-publications of the same run's stored end
    const results = await readResults(kafka, transport.topics.result);
    const byId = new Map<string, RunResultMessage[]>();
    for (const r of results) byId.set(r.requestId, [...(byId.get(r.requestId) ?? []), r]);
    expect(ids.filter((id) => !byId.has(id)), 'requests without a result').toEqual([]);
    const reference = createEngine();
    const ten = tenNodes(() => undefined, 0);
    let duplicates = 0;
    for (const [n, id] of ids.entries()) {
      const rs = byId.get(id)!;
      duplicates += rs.length - 1;
      const want = await reference.run(ten, { i: n });
      for (const r of rs) {
        expect({ runId: r.runId, status: r.status, error: r.error }, id).toEqual({ runId: id, status: 'completed', error: null });
        expect(JSON.parse(r.output!), id).toEqual(want.output);
        expect(JSON.parse(r.outputs), id).toEqual(want.outputs);
      }
    }
    await reference.shutdown();

    // 2. the store: every run completed exactly once, no node completed twice
    const runs = await everyRun(store!);
    expect([...runs.keys()].sort()).toEqual([...ids].sort());
    const twice: string[] = [];
    let resumedNodes = 0;
    for (const [runId, { status, events }] of runs) {
      expect(status, runId).toBe('completed');
      expect(events.filter((e) => e.type === 'run.completed'), runId).toHaveLength(1);
      const completed = new Map<string, number>();
      for (const e of events) if (e.type === 'node.completed') completed.set(e.nodeId!, (completed.get(e.nodeId!) ?? 0) + 1);
      for (const [nodeId, c] of completed) if (c > 1) twice.push(`${runId}/${nodeId}`);
      resumedNodes += events.filter((e) => e.type === 'node.resumed').length;
    }
    expect(twice, 'nodes with two node.completed events').toEqual([]);

    // 3. the side channel: no call of a node started after that node was recorded completed
    const callsOf = new Map<string, number[]>();
    for (const line of readFileSync(calls, 'utf8').split('\n')) {
      if (line === '') continue;
      const [ts, , runId, nodeId] = line.split(' ') as [string, string, string, string];
      const k = `${runId}/${nodeId}`;
      callsOf.set(k, [...(callsOf.get(k) ?? []), Number(ts)]);
    }
    const late: string[] = [];
    let completedNodes = 0;
    for (const [runId, { events }] of runs) {
      for (const e of events) {
        if (e.type !== 'node.completed') continue;
        completedNodes++;
        const mine = callsOf.get(`${runId}/${e.nodeId!}`) ?? [];
        expect(mine.length, `${runId}/${e.nodeId!}: called at least once`).toBeGreaterThan(0);
        for (const ts of mine) if (ts > e.ts) late.push(`${runId}/${e.nodeId!} called at ${ts}, completed at ${e.ts}`);
      }
    }
    expect(late, 'node calls after the node was recorded completed').toEqual([]);
    const calledAgain = [...callsOf.values()].reduce((n, ts) => n + ts.length - 1, 0);

    measure('kills', {
      requests: COUNT, kills: KILLS, maxInFlight: N, results: results.length, duplicates, atKill, completedNodes, resumedNodes,
      nodeCallsRepeated: calledAgain, workerLog: seen, allMs,
    });
    // the kills left work to resume, and redelivered requests met their stored runs
    expect(resumedNodes).toBeGreaterThan(0);
    expect(seen.resumed, 'runs resumed by a worker that got their redelivered request').toBeGreaterThan(0);
    expect(seen.republished, 'stored results published again for redelivered requests').toBeGreaterThan(0);
    // a node runs again only when it was running at a kill (its completion was not recorded): at most maxInFlight runs' worth per kill
    expect(calledAgain).toBeLessThanOrEqual(KILLS * N * 10);
    expect(workers.every(alive)).toBe(true);
  });

  it('the surviving workers stop gracefully on SIGTERM (exit 0)', async () => {
    expect(killed).toHaveLength(KILLS); // the scenario above ran
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
  });
});
