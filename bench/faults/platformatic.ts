/**
 * Fault checks of the @platformatic/kafka prototype transport on a real broker,
 * the ideas of test/kafka/*.int.test.ts that decide whether the client could
 * replace kafkajs. Each check asserts behaviour and prints PASS/FAIL:
 *
 *   KAFKA_BROKERS=127.0.0.1:19092 node --import tsx bench/faults/platformatic.ts [check…]
 *
 * checks: idempotent-concurrent (the raw client, documents upstream #326), send-concurrent (our
 * transport), group-sharing, commit-after-handle, broker-restart (starts and stops a PRIVATE broker
 * with scripts/kafka-local.sh on KAFKA_PRIVATE_PORT, default 29392; never touches KAFKA_BROKERS).
 * Exit code 1 when a check failed.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin, compatibilityPartitioner, ProduceAcks, Producer } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import type { Messages } from '../../src/transports/messages.ts';
import type { Consumption } from '../../src/transports/transport.ts';
import { sleep } from '../lib/measure.ts';
import { deleteTopics } from '../systems/kafka-common.ts';
import { createPlatformaticTransport } from '../systems/platformatic-transport.ts';
import { kafkaBrokers } from '../workloads/kafka.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const prefixOf = (tag: string): string => `fault-${tag}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

const request = (i: number, key = `k${i}`): { key: string; value: Messages['request'] } => ({
  key, value: { requestId: `r${i}`, topology: 'x', input: JSON.stringify(i), priority: 'normal', tenant: null, deadlineMs: null, createdAt: Date.now() },
});

async function highWaterMarks(brokers: readonly string[], topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'fault-admin', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Upstream #326 in 1.35.0: 20 concurrent sends on an idempotent producer, all acknowledged; how many are written? */
async function idempotentConcurrent(brokers: readonly string[]): Promise<string> {
  const topic = `${prefixOf('idem')}.t`;
  const admin = new Admin({ clientId: 'fault', bootstrapBrokers: [...brokers] });
  await admin.createTopics({ topics: [topic], partitions: 6, replicas: 1 });
  await sleep(500);
  const p = new Producer({ clientId: 'fault', bootstrapBrokers: [...brokers], idempotent: true, acks: ProduceAcks.ALL, partitioner: compatibilityPartitioner });
  try {
    await Promise.all(Array.from({ length: 20 }, (_, i) => p.send({ messages: [{ topic, key: Buffer.from(`k${i}`), value: Buffer.from('v') }] })));
    const written = await highWaterMarks(brokers, topic);
    // Known upstream bug: this check documents it (it passes while the bug is there, so a fixed release shows up as a change).
    assert(written < 20, `all 20 concurrent idempotent sends were written: platformatic/kafka#326 is fixed in this version`);
    return `20 sends acknowledged, ${written} written (platformatic/kafka#326)`;
  } finally {
    await p.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  }
}

/** Our transport serialises sends, so 50 concurrent sends are all written once. */
async function sendConcurrent(brokers: readonly string[]): Promise<string> {
  const prefix = prefixOf('send');
  const t = createPlatformaticTransport({ brokers, prefix, clientId: 'fault' });
  try {
    await t.ensureTopics();
    await Promise.all(Array.from({ length: 50 }, (_, i) => t.send('request', [request(i)])));
    const written = await highWaterMarks(brokers, t.topics.request);
    assert(written === 50, `${written} of 50 concurrent sends written`);
    return '50 of 50 written';
  } finally {
    await t.close();
    await deleteTopics(brokers, prefix);
  }
}

/** Two members of one group share the partitions; every message is handled, by one or the other. */
async function groupSharing(brokers: readonly string[]): Promise<string> {
  const prefix = prefixOf('group');
  const a = createPlatformaticTransport({ brokers, prefix, clientId: 'fault-a' });
  const b = createPlatformaticTransport({ brokers, prefix, clientId: 'fault-b' });
  const seen = { a: new Set<string>(), b: new Set<string>() };
  const consumptions: Consumption[] = [];
  try {
    await a.ensureTopics();
    const group = `${prefix}.g`;
    consumptions.push(await a.consume('request', { group, maxInFlight: 8 }, async (m) => { seen.a.add(m.value.requestId); }));
    consumptions.push(await b.consume('request', { group, maxInFlight: 8 }, async (m) => { seen.b.add(m.value.requestId); }));
    await sleep(4000); // both joined (the second join rebalances)
    await a.send('request', Array.from({ length: 120 }, (_, i) => request(i)));
    await waitFor(() => new Set([...seen.a, ...seen.b]).size === 120, 'all 120 requests handled');
    assert(seen.a.size > 0 && seen.b.size > 0, `one member got nothing (a ${seen.a.size}, b ${seen.b.size})`);
    return `a handled ${seen.a.size}, b ${seen.b.size}, together all 120`;
  } finally {
    await Promise.all(consumptions.map((c) => c.stop()));
    await Promise.all([a.close(), b.close()]);
    await deleteTopics(brokers, prefix);
  }
}

/** The committed offset never passes an unfinished message: 10 on one partition, the 4th held. */
async function commitAfterHandle(brokers: readonly string[]): Promise<string> {
  const prefix = prefixOf('commit');
  const t = createPlatformaticTransport({ brokers, prefix, clientId: 'fault' });
  const group = `${prefix}.g`;
  const admin = new Kafka({ clientId: 'fault-admin', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let done = 0;
  let c: Consumption | undefined;
  try {
    await t.ensureTopics();
    await admin.connect();
    await t.send('request', Array.from({ length: 10 }, (_, i) => request(i, 'same-key')));
    c = await t.consume('request', { group, maxInFlight: 16 }, async (m) => {
      if (m.value.requestId === 'r3') await held;
      done++;
    });
    const committed = async (): Promise<number> => {
      const [o] = await admin.fetchOffsets({ groupId: group, topics: [t.topics.request] });
      return Math.max(...(o?.partitions ?? []).map((p) => Number(p.offset)));
    };
    await waitFor(() => done === 9, '9 of 10 handled');
    await sleep(1500); // time for commits that should not happen
    const before = await committed();
    assert(before === 3, `committed offset ${before} while message 3 is unfinished (expected 3)`);
    release();
    await waitFor(async () => (await committed()) === 10, 'offset 10 committed after the held message finished');
    return 'committed 3 while offset 3 was held, 10 once it finished';
  } finally {
    release();
    await c?.stop();
    await t.close();
    await admin.disconnect();
    await deleteTopics(brokers, prefix);
  }
}

function privateBroker(action: 'start' | 'stop', port: string): string {
  const env = { ...process.env, KAFKA_HOME: `/tmp/kafka-bench-faults`, KAFKA_PORT: port };
  return execFileSync('bash', [path.join(repo, 'scripts', 'kafka-local.sh'), action], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** A private broker stops and starts again: the consumer and producer carry on, nothing handled is lost. */
async function brokerRestart(): Promise<string> {
  const port = process.env['KAFKA_PRIVATE_PORT'] ?? '29392';
  const out = privateBroker('start', port);
  const brokers = [/KAFKA_BROKERS=(\S+)/.exec(out)?.[1] ?? `127.0.0.1:${port}`];
  const prefix = prefixOf('restart');
  const t = createPlatformaticTransport({ brokers, prefix, clientId: 'fault' });
  const seen = new Set<string>();
  const events: string[] = [];
  t.events$.subscribe((e) => events.push(e.type));
  let c: Consumption | undefined;
  try {
    await t.ensureTopics();
    c = await t.consume('request', { group: `${prefix}.g`, maxInFlight: 8 }, async (m) => { seen.add(m.value.requestId); });
    await t.send('request', Array.from({ length: 20 }, (_, i) => request(i)));
    await waitFor(() => seen.size === 20, 'the first 20 handled');
    privateBroker('stop', port);
    // a send while the broker is down must settle (fail) in bounded time, and sends must work again after
    let settled = 'pending';
    const down = t.send('request', [request(999)]).then(() => { settled = 'sent'; }, (e: unknown) => { settled = `failed: ${(e as Error).message}`; });
    await Promise.race([down, sleep(30_000)]);
    const whileDown = settled;
    privateBroker('start', port);
    await Promise.race([down, sleep(60_000)]);
    assert(settled !== 'pending', `a send while the broker was down did not settle: 30 s with the broker down, then 60 s after it came back`);
    await t.send('request', Array.from({ length: 20 }, (_, i) => request(20 + i)));
    await waitFor(() => Array.from({ length: 40 }, (_, i) => `r${i}`).every((id) => seen.has(id)), 'the next 20 handled after the restart', 90_000).catch((e: unknown) => {
      const report = t.health.report();
      throw new Error(`${(e as Error).message}; handled ${seen.size} of 40; send while down: ${whileDown} (30 s), then ${settled}; `
        + `events: ${[...new Set(events)].join(', ') || 'none'}; health ${report.status} ${JSON.stringify(report.components)}`);
    });
    const failed = `${whileDown} (30 s), then ${settled}`;
    return `send while down: ${failed}; all 40 handled; events: ${[...new Set(events)].join(', ') || 'none'}; health ${t.health.report().status}`;
  } finally {
    await c?.stop().catch(() => undefined);
    await t.close().catch(() => undefined);
    privateBroker('stop', port);
  }
}

async function main(): Promise<void> {
  const brokers = kafkaBrokers();
  if (brokers === undefined) throw new Error('set KAFKA_BROKERS (the shared broker; the restart check starts its own)');
  const checks: Record<string, () => Promise<string>> = {
    'idempotent-concurrent': () => idempotentConcurrent(brokers),
    'send-concurrent': () => sendConcurrent(brokers),
    'group-sharing': () => groupSharing(brokers),
    'commit-after-handle': () => commitAfterHandle(brokers),
    'broker-restart': () => brokerRestart(),
  };
  const wanted = process.argv.slice(2);
  let failed = 0;
  for (const [name, check] of Object.entries(checks)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const t0 = performance.now();
    try {
      const what = await check();
      process.stdout.write(`PASS ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${what}\n`);
    } catch (e) {
      failed++;
      process.stdout.write(`FAIL ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  process.exit(failed > 0 ? 1 : 0);
}

void main();
