// `llmo serve --brokers … --store postgres://…` (issue 15, item 3): the same API in front of a Kafka worker group.
// A real `llmo worker` process serves topologies/rag.ts with a Postgres store; a real `llmo serve` process sends
// the runs it is given to the workers and reads their history from the same store. A waited run answers its
// outcome; a run's stream carries the worker's tokens (from the token topic) and its lifecycle events (from the
// store) and ends with the run; the stored run reads back through GET /v1/runs/:id; cancelling it once it ended
// answers 409 (a running one is asked of its worker through the shared store: test/durable/deploy-conformance.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openStore } from '../../src/stores/open.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { deleteTopics, rawKafka, uniquePrefix, waitFor, llmo, type LlmoProcess } from './support.ts';
import { haveSchemathesis, reportTail, schemathesis, schemathesisArgs, ST, writeSchemathesisConfig } from '../conformance/schemathesis.ts';

const brokers: string | undefined = inject('kafkaBrokers');
const pgUrl: string = inject('pgUrl');


/** Reads a Server-Sent-Event stream to its end: the `event:` names in order, and the token texts. */
async function readStream(url: string, key: string): Promise<{ events: string[]; tokens: string }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  const events: string[] = [];
  let tokens = '';
  for (const block of text.split('\n\n')) {
    const name = /^event: (.+)$/m.exec(block)?.[1];
    if (name === undefined) continue;
    events.push(name);
    if (name === 'node.token') tokens += (JSON.parse(/^data: (.+)$/m.exec(block)![1]!) as { text: string }).text;
  }
  return { events, tokens };
}

describe.skipIf(!brokers || pgUrl === '')('llmo serve in front of a Kafka worker group', () => {
  const prefix = uniquePrefix('it-serve');
  const schema = `llmo_serve_${process.pid}_${randomBytes(3).toString('hex')}`;
  const storeUrl = (() => {
    if (pgUrl === '') return '';
    const u = new URL(pgUrl);
    u.searchParams.set('schema', schema);
    return u.toString();
  })();
  const kafkaArgs = ['--brokers', brokers ?? '', '--prefix', prefix];
  let worker: LlmoProcess | undefined;
  let server: LlmoProcess | undefined;
  let base = '';
  let key = '';
  const post = (body: unknown): Promise<Response> => fetch(`${base}/v1/runs`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  beforeAll(async () => {
    await createKafkaTransport({ brokers: (brokers ?? '').split(','), prefix, clientId: 'serve-int' }).ensureTopics();
    const store = await openStore(storeUrl); // migrations run here, in the fresh schema
    await store.close();
    worker = llmo(['worker', 'topologies/rag.ts', ...kafkaArgs, '--store', storeUrl, '--max-in-flight', '4'], 'warn');
    await waitFor(() => /worker \S+ serving 'rag'/.test(worker!.err()) || worker!.child.exitCode !== null, 'the worker to serve', 90_000, 50);
    expect(worker.child.exitCode, worker.err()).toBeNull();
    const keys = path.join(mkdtempSync(path.join(tmpdir(), 'llmo-serve-kafka-')), 'keys.json');
    // limits a fuzzer's pace stays under (the last test runs Schemathesis against this server)
    server = llmo(['serve', 'topologies/rag.ts', ...kafkaArgs, '--store', storeUrl, '--keys', keys, '--port', '0', '--rate-limit', '1000000/1m', '--failed-auth-limit', '1000000/1m'], 'warn');
    await waitFor(() => /^llmo_\S+$/m.test(server!.out()) || server!.child.exitCode !== null, 'the server to listen', 90_000, 50);
    expect(server.child.exitCode, server.err()).toBeNull();
    expect(server.err()).toContain('runs sent to the workers');
    base = /on (https?:\/\/\S+) \(/.exec(server.err())![1]!;
    key = /^(llmo_\S+)$/m.exec(server.out())![1]!;
  }, 180_000);

  afterAll(async () => {
    for (const p of [server, worker]) {
      if (p !== undefined && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    if (brokers) await deleteTopics(rawKafka(brokers), prefix).catch(() => undefined);
  }, 60_000);

  it('answers a waited run with the worker\'s outcome and reads it back from the shared store', async () => {
    const r = await post({ topology: 'rag', input: { question: 'How does backpressure keep memory bounded?' }, wait: true });
    expect(r.status, await r.clone().text()).toBe(200);
    const outcome = await r.json() as { runId: string; status: string; output: unknown };
    expect(outcome.status).toBe('completed');
    const got = await fetch(`${base}/v1/runs/${outcome.runId}`, { headers: { authorization: `Bearer ${key}` } });
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ runId: outcome.runId, status: 'completed', topology: 'rag' });
  }, 120_000);

  it('streams a run\'s tokens from the token topic and its lifecycle from the store, to the end', async () => {
    const r = await post({ topology: 'rag', input: { question: 'Why do shared pools matter?' } });
    expect(r.status, await r.clone().text()).toBe(202);
    const { runId } = await r.json() as { runId: string };
    const { events, tokens } = await readStream(`${base}/v1/runs/${runId}/stream`, key);
    expect(events).toContain('run.started');
    expect(events).toContain('node.completed');
    expect(events.filter((e) => e === 'node.token').length).toBeGreaterThan(0);
    expect(tokens.length).toBeGreaterThan(0);
    expect(events.at(-2)).toBe('run.completed');
    expect(events.at(-1)).toBe('end');
    const cancel = await fetch(`${base}/v1/runs/${runId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    expect(cancel.status).toBe(409);
  }, 120_000);

  // The same conformance run as test/conformance (which serves runs in process), against this server: its
  // runs, cancels, signals and forks go through the workers and the shared PostgreSQL store.
  it.skipIf(!haveSchemathesis && process.env['CI'] !== 'true')(`passes Schemathesis's checks in every phase${haveSchemathesis ? '' : ` (${ST} is missing)`}`, async () => {
    expect(haveSchemathesis, `CI=true and ${ST} is missing: .ci/run installs it with scripts/schemathesis-local.sh`).toBe(true);
    const done = await post({ topology: 'rag', input: { question: 'What is a shared pool?' }, wait: true });
    const { runId } = await done.json() as { runId: string };
    const spare = await fetch(`${base}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ roles: { rag: 'viewer' }, name: 'spare' }) });
    expect(spare.status).toBe(201);
    const { keyId } = await spare.json() as { keyId: string };
    const dir = mkdtempSync(path.join(tmpdir(), 'llmo-schemathesis-kafka-'));
    writeSchemathesisConfig(dir, { runId, endedRunId: runId, signal: 'approval', spareKeyId: keyId });
    const all = await schemathesis(['run', `${base}/openapi.json`, ...schemathesisArgs(key, 25), '--exclude-name', 'DELETE /v1/keys/{keyId}'], dir);
    expect(all.output, reportTail(all.output)).toMatch(/Tested: 17\b/);
    expect(all.code, reportTail(all.output)).toBe(0);
    const revoke = await schemathesis(['run', `${base}/openapi.json`, ...schemathesisArgs(key, 25), '--include-name', 'DELETE /v1/keys/{keyId}'], dir);
    expect(revoke.code, reportTail(revoke.output)).toBe(0);
  }, 300_000);
});
