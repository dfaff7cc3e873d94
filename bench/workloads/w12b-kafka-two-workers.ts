/**
 * W12b: the W12 client load against one worker, then two workers in one
 * consumer group, each worker in a process of its own.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import type { Measurement, Workload } from '../lib/types.ts';
import { sleep } from '../lib/measure.ts';
import { WORKER_GROUP, type KafkaSetup } from '../systems/types.ts';
import { kafkaSetup, skipWithoutKafka } from './kafka.ts';
import { nodeImports } from '../lib/library.ts';

const MAX_IN_FLIGHT = 64;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** Starts one worker process and resolves once it prints READY; its stdin is its lifeline. */
function startWorker(system: string, setup: KafkaSetup): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...nodeImports(), path.join(here, 'w12b-worker-process.ts'), system, setup.prefix, String(MAX_IN_FLIGHT)],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KAFKA_BROKERS: setup.brokers.join(',') } },
  );
  child.stderr!.setEncoding('utf8').on('data', (d: string) => setup.log(d.trimEnd()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('a worker process did not start within 60 s')), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('READY\n')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`a worker process exited (${signal ?? code}) before it was ready`));
    });
  });
}

/** Closes a worker's stdin (it then stops and exits) and waits, killing it after 30 s. */
function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin!.end();
  });
}

/** Waits until the worker group is Stable with `members` members, so no rebalance falls into the measurement. */
async function groupSettled(setup: KafkaSetup, members: number): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-w12b-watch', brokers: [...setup.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const deadline = performance.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([WORKER_GROUP(setup.prefix)]);
      const g = groups[0];
      if (g !== undefined && g.state === 'Stable' && g.members.length === members) return;
      if (performance.now() > deadline) throw new Error(`worker group not Stable with ${members} members after 60 s (${g?.state}, ${g?.members.length})`);
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}

export const workload: Workload = {
  id: 'w12b',
  title: 'Run requests per second through one worker and through two (one group, a process each)',
  description: `The W12 load (\`createClient().submitMany\` of 1,000 requests, quick: 300, 48-token \`sim:fast\` answers; every result checked) from a client alone in the measuring process, served first by one worker process, then by two in the same consumer group (maxInFlight ${MAX_IN_FLIGHT} each, 6 request partitions); each count is timed after the group is Stable with that many members and a warm-up of 200 (quick: 64). Reports requests/s with 1 and 2 workers and their ratio (\`scale\`). The broker, the client and the workers share the machine's cores. kafkajs: the hand-written request → reply of W12. Needs KAFKA_BROKERS.`,
  metrics: [
    { name: 'requests_per_s_1', unit: 'requests/s', better: 'higher' },
    { name: 'requests_per_s_2', unit: 'requests/s', better: 'higher' },
    { name: 'scale', unit: '×', better: 'higher', ratio: false },
  ],
  targets: [],
  systems: () => ['llm-orchestrator'],
  capable: ['llm-orchestrator', 'kafkajs', 'platformatic'],
  skip: skipWithoutKafka,
  timeoutMs: (mode) => (mode === 'quick' ? 120_000 : 240_000),
  async run(ctx) {
    const { kafkaClient, kafkaServe } = ctx.system;
    if (kafkaClient === undefined || kafkaServe === undefined) throw new Error(`${ctx.system.id} has no split Kafka client and worker`);
    const n = ctx.mode === 'quick' ? 300 : 1000;
    const warm = ctx.mode === 'quick' ? 64 : 200;
    const setup = kafkaSetup(ctx, 'w12b');
    const client = await kafkaClient(setup);
    const workers: ChildProcess[] = [];
    const out: Measurement = {};
    try {
      for (const count of [1, 2]) {
        const t0 = performance.now();
        while (workers.length < count) workers.push(await startWorker(ctx.system.id, setup));
        await groupSettled(setup, count);
        ctx.log(`${count} worker(s) consuming after ${(performance.now() - t0).toFixed(0)} ms`);
        await client.roundTrip(warm);
        await groupSettled(setup, count); // still the same members: the warm-up caused no rebalance
        const s = performance.now();
        await client.roundTrip(n);
        const ms = performance.now() - s;
        out[`requests_per_s_${count}`] = n / (ms / 1000);
        ctx.log(`${count} worker(s): ${n} requests in ${ms.toFixed(0)} ms`);
      }
      out['scale'] = out['requests_per_s_2']! / out['requests_per_s_1']!;
      return out;
    } finally {
      await Promise.all(workers.map(stopWorker));
      await client.close();
    }
  },
};
