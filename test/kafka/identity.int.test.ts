// Identity of runs across attempts, readers from the right place, and the audit topic, on a real broker:
// - a worker process killed mid-run (SIGKILL: nothing flushed, nothing committed); another worker gets the
//   redelivery; client.tokens(requestId) shows the first attempt closed and the second complete;
// - a client reads results from now: a topic full of old results is not read, its own result arrives;
// - an audit record round-trips with every field.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createEngine } from '../../src/index.ts';
import { createKafkaTransport, type KafkaTransport } from '../../src/transports/kafka/index.ts';
import type { AuditMessage, RunResultMessage } from '../../src/transports/messages.ts';
import { createClient, type RequestStreamEvent } from '../../src/worker/client.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { identityGen } from './fixtures/identity-worker.ts';
import { deleteTopics, rawKafka, readN, REPO, sampleMessages, uniquePrefix, waitFor } from './support.ts';

const brokers = inject('kafkaBrokers');
const prefixes: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
const fresh = (tag: string): string => {
  const p = uniquePrefix(tag);
  prefixes.push(p);
  return p;
};
const transport = (prefix: string, clientId: string): KafkaTransport => {
  const t = createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 3, clientId, sessionTimeoutMs: 6000 });
  cleanups.push(() => t.close());
  return t;
};

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  for (const p of prefixes) await deleteTopics(rawKafka(brokers), p);
});

describe.skipIf(brokers === '')('identity of runs across attempts', () => {
  it('worker A killed mid-run, B gets the redelivery: the request\'s token stream closes A\'s attempt and completes B\'s', async () => {
    const prefix = fresh('ident');
    const group = `${prefix}.workers`;
    const tc = transport(prefix, 'identity-client');
    await tc.ensureTopics();
    let child: ChildProcess | undefined = spawn(process.execPath, ['--import', 'tsx', 'test/kafka/fixtures/identity-worker.ts', brokers, prefix, group], {
      cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'],
    });
    cleanups.push(async () => { if (child?.exitCode === null) child.kill('SIGKILL'); });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    await waitFor(() => stderr.includes('ready') || child?.exitCode !== null, 'worker A to start', 60_000);
    expect(stderr).toContain('ready');

    const client = createClient(tc);
    cleanups.push(() => client.close());
    const requestId = `req-${randomUUID()}`;
    const seen: RequestStreamEvent[] = [];
    const done = new Promise<void>((resolve, reject) => client.tokens(requestId).subscribe({ next: (e) => seen.push(e), complete: resolve, error: reject }));
    const result = client.submit('identity-gen', { q: 'Why follow a request across attempts?' }, { requestId });
    // A streams some tokens, then dies without finishing, flushing or committing.
    await waitFor(() => seen.filter((e) => e.type === 'tokens').length >= 3, 'tokens of the first attempt', 60_000);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const firstRun = (seen[0] as Extract<RequestStreamEvent, { type: 'attempt' }>).runId;
    expect(seen[0]).toMatchObject({ type: 'attempt', requestId, worker: 'A', attempt: 1 });

    const tb = transport(prefix, 'identity-b');
    const engine = createEngine();
    const b = createWorker({ engine, transport: tb, topologies: [identityGen], group, inbound: false, workerId: 'B', lingerMs: 10 });
    cleanups.push(async () => { await b.stop(); await engine.shutdown(); });
    await b.start();
    const r: RunResultMessage = await result;
    await done;

    expect(r).toMatchObject({ status: 'completed', worker: 'B', requestId });
    expect(r.runId).not.toBe(firstRun);
    const types = seen.map((e) => (e.type === 'abandoned' ? `abandoned:${e.reason}:${e.runId === firstRun ? 'A' : '?'}` : e.type === 'attempt' ? `attempt:${e.worker}` : e.type));
    // attempt A, tokens of A, A closed as superseded when B's attempt starts, tokens of B, result.
    const compact = types.filter((t, i) => t !== types[i - 1]);
    expect(compact).toEqual(['attempt:A', 'tokens', 'abandoned:superseded:A', 'attempt:B', 'tokens', 'result']);
    const attemptB = seen.findIndex((e) => e.type === 'attempt' && e.worker === 'B');
    const after = seen.slice(attemptB + 1);
    expect(after.every((e) => e.type !== 'tokens' || e.runId === r.runId)).toBe(true);
    const tokensB = after.flatMap((e) => (e.type === 'tokens' ? e.tokens : []));
    expect(tokensB.join('')).toBe((JSON.parse(r.output!) as { text: string }).text);
    expect(tokensB).toHaveLength(400);
    expect(seen.at(-1)).toEqual({ type: 'result', result: r });
  });
});

describe.skipIf(brokers === '')('readers from the right place', () => {
  it('a new client does not read old results, and still gets its own', async () => {
    const prefix = fresh('ident-now');
    const t = transport(prefix, 'identity-now');
    const old = sampleMessages().result;
    const OLD = 3000;
    for (let i = 0; i < OLD; i += 500) {
      await t.send('result', Array.from({ length: 500 }, (_, k) => ({ key: `old-${i + k}`, value: { ...old, requestId: `old-${i + k}` } })));
    }
    const engine = createEngine();
    const w = createWorker({ engine, transport: t, topologies: [identityGen], inbound: false, publish: false });
    cleanups.push(async () => { await w.stop(); await engine.shutdown(); });
    await w.start();
    const client = createClient(t);
    cleanups.push(() => client.close());
    const mine = await client.submit('identity-gen', { q: 'Mine?' });
    expect(mine.status).toBe('completed');
    expect(client.received).toBe(1);
    expect([...client.results.keys()]).toEqual([mine.requestId]);
    // fromBeginning still reads the history
    const all = createClient(t, { fromBeginning: true });
    cleanups.push(() => all.close());
    await waitFor(() => all.results.size === OLD + 1, 'every result with fromBeginning', 60_000);
  });
});

describe.skipIf(brokers === '')('audit topic', () => {
  it('round-trips an audit record with every field', async () => {
    const prefix = fresh('ident-audit');
    const t = transport(prefix, 'identity-audit');
    const record: AuditMessage = { ...sampleMessages().audit, tenant: 'acme', requestId: 'req-9', topology: 'rag' };
    await t.send('audit', [{ key: 'run-1', value: record }]);
    const [got] = await readN(t, 'audit', 1);
    expect(got!.key).toBe('run-1');
    expect(got!.value).toEqual(record);
  });
});
