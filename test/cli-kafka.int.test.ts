// `llmo worker` / `llmo submit` against the shared broker: the health endpoint answers from the worker's real
// health over real HTTP (200 while serving, 503 once it is down), an unreachable broker exits 69 (not the usage
// code), a bad --kafka-config field is named, and topics are created with their settings and existing ones checked. A worker with a PostgreSQL store whose --health-port is taken exits 2 instead of hanging on the open pool.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedPort } from './support/helpers.ts';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEngine, topology } from '../src/index.ts';
import { createKafkaTransport } from '../src/transports/kafka/index.ts';
import type { TransportEvent } from '../src/transports/health.ts';
import { createWorker } from '../src/worker/index.ts';
import { main, EXIT } from '../src/cli/main.ts';
import { workerCommand } from '../src/cli/commands/worker.ts';
import { startHealthServer } from '../src/cli/health-server.ts';
import { rawKafka, uniquePrefix, waitFor } from './kafka/support.ts';
import { pgSchemas } from './support/pg-schemas.ts';

const brokers = inject('kafkaBrokers');

function capture(env?: NodeJS.ProcessEnv) {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, ...(env === undefined ? {} : { env }) }, out: () => out, err: () => err };
}


const get = async (port: number, p: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, body: await r.json() as Record<string, unknown> };
};

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(path.join(tmpdir(), 'llmo-cli-kafka-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const pgs = pgSchemas('llmo_hp');
afterAll(() => pgs.dropAll());

describe.skipIf(!brokers)('llmo worker and submit on a real broker', () => {
  it('health endpoint: 200 with the report while the worker serves, 503 once it is down', async () => {
    const echo = topology('echo', { input: z.object({ text: z.string() }) }).map('upper', { run: ({ input }) => input.text.toUpperCase() }).build({ output: 'upper' });
    const transport = createKafkaTransport({ brokers: brokers.split(','), prefix: uniquePrefix('cli-health'), partitions: 1 });
    const worker = createWorker({ engine: createEngine(), transport, topologies: [echo], group: uniquePrefix('g'), inbound: false });
    let started = false;
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', health: worker.health, ready: () => started });
    try {
      expect((await get(server.port, '/readyz')).status).toBe(503); // not serving yet
      await worker.start();
      started = true;
      const up = await get(server.port, '/healthz');
      expect(up.status).toBe(200);
      expect(up.body).toMatchObject({ status: 'up', components: { 'worker.requests': { status: 'up' } } });
      expect((await get(server.port, '/readyz')).status).toBe(200);
      await worker.stop();
      const down = await get(server.port, '/healthz');
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'down', components: { 'worker.requests': { status: 'down', reason: 'worker stopped' } } });
      expect((await get(server.port, '/readyz')).status).toBe(503);
      expect((await get(server.port, '/nope')).status).toBe(404);
    } finally {
      await server.close();
      await transport.close();
    }
  });

  it('llmo worker --health-port serves /healthz until stopped, then exits 0', async () => {
    const prefix = uniquePrefix('cli-worker');
    const c = capture({ ...process.env, LOG_LEVEL: 'warn' });
    const stop = new AbortController();
    const done = workerCommand('topologies/rag.ts', {
      brokers, prefix, partitions: 1, group: `${prefix}-g`, maxInFlight: 2, healthPort: 0, exitOnDownMs: 30_000, workerId: 'w-health', tokens: false, offsetReset: 'earliest',
    }, c.io, stop.signal);
    await waitFor(() => /health on :\d+/.test(c.err()) || c.err().includes('llmo:'), 'the worker to serve', 60_000);
    expect(c.err()).toMatch(/^worker w-health serving 'rag' in group '.*-g' \(max 2 in flight, health on :\d+\)/m);
    const port = Number(/health on :(\d+)/.exec(c.err())![1]);
    const h = await get(port, '/healthz');
    expect(h.status).toBe(200);
    expect((await get(port, '/readyz')).status).toBe(200);
    stop.abort();
    expect(await done).toBe(EXIT.ok);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow(); // closed with the worker
  });

  it.skipIf(pgs.url === '')('llmo worker with a PostgreSQL store and a --health-port in use exits 2 (the store is closed, not left holding the process)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const store = pgs.at(pgs.fresh());
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        execFile(process.execPath, ['bin/llmo.mjs', 'worker', 'topologies/rag.ts', '--brokers', brokers, '--prefix', uniquePrefix('cli-hp'), '--store', store, '--health-port', String(port)],
          { timeout: 60_000, env: { ...process.env, LOG_LEVEL: 'warn' } }, (e, _out, err) => resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, err }));
      });
      expect(r.err).toContain(`--health-port ${port}`);
      expect(r.code).toBe(EXIT.invalid);
    } finally {
      blocker.close();
    }
  });

  it('an unreachable broker exits 69 (worker and submit); invalid settings stay 2', async () => {
    const port = await closedPort();
    const w = capture();
    expect(await main(['worker', 'topologies/rag.ts', '--brokers', `127.0.0.1:${port}`], w.io)).toBe(EXIT.unavailable);
    expect(w.err()).toMatch(new RegExp(`^llmo: cannot reach Kafka at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    const s = capture();
    expect(await main(['submit', 'rag', '--brokers', `127.0.0.1:${port}`], s.io)).toBe(EXIT.unavailable);
    const bad = capture();
    expect(await main(['worker', 'topologies/rag.ts', '--brokers', 'nohost'], bad.io)).toBe(EXIT.invalid);
    expect(bad.err()).toContain('--brokers.0: expected host:port');
  });

  it('a bad --kafka-config field is named, with the file', async () => {
    const f = path.join(tmp, 'kafka.yaml');
    writeFileSync(f, `brokers: [${brokers}]\nsasl:\n  mechanism: scram-sha-1\n  username: u\n  password: p\nreplicationFactor: 0\n`);
    const c = capture();
    expect(await main(['worker', 'topologies/rag.ts', '--kafka-config', f], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain(`--kafka-config ${f} is invalid:`);
    expect(c.err()).toMatch(/- sasl\.mechanism: /);
    expect(c.err()).toMatch(/- replicationFactor: /);
  });

  it('topics are created with their settings (policies compacted, retention.ms, min.insync.replicas)', async () => {
    const prefix = uniquePrefix('cli-topics');
    const c = capture();
    // submit creates the topics as the worker would (same option parsing), then times out with no worker
    expect(await main(['submit', 'rag', '--brokers', brokers, '--prefix', prefix, '--partitions', '2', '--retention-ms', '3600000', '--min-insync-replicas', '1', '--timeout', '1'], c.io)).toBe(EXIT.runFailed);
    const admin = rawKafka(brokers).admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [`${prefix}.policies`, `${prefix}.run-requests`].map((name) => ({ type: 2, name, configNames: ['cleanup.policy', 'retention.ms', 'min.insync.replicas'] })),
      });
      const conf = Object.fromEntries(resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]));
      expect(conf[`${prefix}.policies`]).toMatchObject({ 'cleanup.policy': 'compact', 'min.insync.replicas': '1' });
      expect(conf[`${prefix}.run-requests`]).toMatchObject({ 'cleanup.policy': 'delete', 'retention.ms': '3600000', 'min.insync.replicas': '1' });
      const meta = await admin.fetchTopicMetadata({ topics: [`${prefix}.run-requests`] });
      expect(meta.topics[0]!.partitions).toHaveLength(2);
    } finally {
      await admin.disconnect();
    }
  });

  it('existing topics are checked: a compacted run topic is TOPIC_MISMATCH (exit 2), a non-compacted policies topic a warning', async () => {
    const prefix = uniquePrefix('cli-mismatch');
    const admin = rawKafka(brokers).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: `${prefix}.policies`, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
          { topic: `${prefix}.events`, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const transport = createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 1 });
    const events: TransportEvent[] = [];
    transport.events$.subscribe((e) => events.push(e));
    const e = await transport.ensureTopics().then(() => undefined, (err: unknown) => err);
    expect(e).toMatchObject({ code: 'TOPIC_MISMATCH', retriable: false });
    expect((e as Error).message).toContain(`topic ${prefix}.events has cleanup.policy compact, asked for delete`);
    expect(events).toEqual([expect.objectContaining({ type: 'topic.mismatch', topic: `${prefix}.policies`, setting: 'cleanup.policy', has: 'delete', asked: 'compact' })]);
    await transport.close();
    const c = capture();
    expect(await main(['submit', 'rag', '--brokers', brokers, '--prefix', prefix, '--partitions', '1'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain(`llmo: warning: topic ${prefix}.policies has cleanup.policy delete, asked for compact`);
    expect(c.err()).toMatch(new RegExp(`llmo: Kafka at .*: existing topics do not fit: topic ${prefix.replace(/[.]/g, '\\.')}\\.events has cleanup\\.policy compact`));
  });
});
