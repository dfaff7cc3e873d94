// Shared helpers of the Kafka integration tests (*.int.test.ts): unique topic prefixes,
// one sample message per kind, polling, waiting for new topics, reading a topic back, raw kafkajs clients, heap sampling.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { filter, firstValueFrom, scan, type Observable } from 'rxjs';
import { timeout as rxTimeout } from 'rxjs/operators';
import type { Envelope, Transport } from '../../src/transports/transport.ts';
import type { MessageKind, Messages } from '../../src/transports/messages.ts';

/** A prefix no other run (or test) uses: `it-<time>-<random>`. */
export function uniquePrefix(tag = 'it'): string {
  return `${tag}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** One valid message of every kind (values chosen to survive an Avro round trip exactly). */
export function sampleMessages(): { [K in MessageKind]: Messages[K] } {
  return {
    request: { requestId: 'req-1', topology: 'echo', input: '{"q":"why?"}', priority: 'high', tenant: 'acme', deadlineMs: 1500.5, createdAt: 1_700_000_000_123, user: 'ana' },
    result: {
      requestId: 'req-1', runId: 'run-1', topology: 'echo', status: 'completed', output: '"ok"', outputs: '{"a":"ok"}', error: null,
      usage: { inputTokens: 10, outputTokens: 20, cachedTokens: 3, reasoningTokens: 4, costUsd: 0.000125, calls: 2 },
      worker: 'w-1', startedAt: 1_700_000_000_000, endedAt: 1_700_000_000_250.25,
    },
    token: { runId: 'run-1', nodeId: 'gen', firstIndex: 7, tokens: ['Hello', ',', ' wörld', ' 🙂', ''], restart: null, ts: 1_700_000_000_001, requestId: 'req-1', attempt: 2 },
    event: { runId: 'run-1', topology: 'echo', type: 'node.completed', seq: 4, ts: 1_700_000_000_002.5, nodeId: 'gen', parentRunId: null, data: '{"durationMs":12}', requestId: 'req-1', attempt: 2 },
    feedback: {
      feedbackId: 'fb-1', topology: 'echo', runId: 'run-1', nodeId: 'gen', model: 'sim:fast', metric: 'faithfulness', score: 0.875,
      source: 'bench', ts: 1_700_000_000_003, comment: 'grounded in the sources', label: 'pass',
    },
    policy: { policyId: 'pol-1', version: 3, target: 'echo/gen', params: { model: '"sim:fast"', temperature: '0.2', maxTokens: '64' }, reason: 'cheaper', ts: 1_700_000_000_004 },
    audit: {
      ts: 1_700_000_000_005, actor: 'ops@example.com', action: 'cancel', runId: 'run-1', details: '{"why":"test"}', tenant: 'acme', requestId: 'req-1', topology: 'echo',
      user: 'ana', stream: 'acme', seq: 7, prevHash: 'a'.repeat(64), hash: 'b'.repeat(64),
    },
    deadLetter: {
      topic: 'x.feedback', partition: 2, offset: '12345678901234', reason: 'cannot decode feedback: truncated buffer',
      key: Buffer.from('k-1'), value: Buffer.from([0, 1, 2, 255]), headers: { 'llmo-schema': 'abc', 'llmo-kind': 'feedback' }, ts: 1_700_000_000_006, truncated: false, originalSize: null,
    },
    nodeTask: {
      taskId: 'task-1', runId: 'run-1', topology: 'echo', group: 'gpu', nodeId: 'gen', input: '{"q":"why?"}', deps: '{"a":1}',
      priority: 'normal', deadline: 1_700_000_060_000, origin: 'w-1',
    },
    nodeResult: { taskId: 'task-1', runId: 'run-1', nodeId: 'gen', ok: true, output: '"done"', error: null, worker: 'w-2' },
    signal: { signalId: 'sig-1', runId: 'run-1', name: 'approval', payload: '{"approved":true,"by":"ana"}', ts: 1_700_000_000_007, requestId: 'req-1', tenant: 'acme' },
    evaluation: {
      evaluationId: 'run-1', runId: 'run-1', nodeId: null, topology: 'echo', version: 'v1abc', variant: 'b', policyVersion: 4, promptVersion: 'p2',
      models: { gen: 'sim:fast' }, arms: { gen: 'fast' }, input: '{"q":"why?"}', output: '"because"', status: 'completed',
      latencyMs: 12.5, inputTokens: 10, outputTokens: 20, costUsd: 0.000125, tenant: 'acme', user: 'u-7', ts: 1_700_000_000_008,
    },
    experience: {
      runId: 'run-1', topology: 'echo', decision: 'gen', arm: 'fast', context: '{"variant":"b","input":{"q":"why?"}}', metric: 'correct',
      quality: 1, costUsd: 0.000125, reward: 0.99875, ts: 1_700_000_000_009,
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` every `everyMs` until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Reads a kind from its beginning until `count` messages arrived (or `until` holds); errors after `timeoutMs`. */
export function readN<K extends MessageKind>(transport: Transport, kind: K, count: number, timeoutMs = 30_000): Promise<Envelope<Messages[K]>[]> {
  return readUntil(transport.read(kind, { fromBeginning: true }), (xs) => xs.length >= count, timeoutMs);
}

/** Collects an observable until `done(all so far)` holds. */
export function readUntil<T>(source: Observable<T>, done: (xs: readonly T[]) => boolean, timeoutMs = 30_000): Promise<T[]> {
  return firstValueFrom(source.pipe(
    scan((xs: T[], x: T) => [...xs, x], [] as T[]),
    filter((xs) => done(xs)),
    rxTimeout({ first: timeoutMs }),
  ));
}

/** A kafkajs client for raw produce and admin calls (what a foreign producer would do). */
export function rawKafka(brokers: string, clientId = 'int-test-raw'): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/** Connected raw producer (default partitioner, like the transport). */
export async function rawProducer(kafka: Kafka): Promise<Producer> {
  const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await p.connect();
  return p;
}

/** Options of {@link waitForTopics}. */
export interface WaitForTopicsOptions {
  /** Polls at most this many times (default 120) ... */
  readonly attempts?: number;
  /** ... this many ms apart (default 250). */
  readonly everyMs?: number;
}

/**
 * Resolves once every partition of every topic has a leader in the metadata and that leader serves it
 * (a ListOffsets answer per partition). `createTopics({ waitForLeaders: true })` can return before the
 * leader hosts the partition: a consumer or producer that comes right after gets "This server does not
 * host this topic-partition". Takes a connected admin, or the brokers (then connects its own). Throws with
 * the last state after `attempts` polls.
 */
export async function waitForTopics(client: Admin | string, topics: readonly string[], options: WaitForTopicsOptions = {}): Promise<void> {
  const attempts = options.attempts ?? 120;
  const everyMs = options.everyMs ?? 250;
  if (topics.length === 0) return;
  let admin: Admin;
  let own = false;
  if (typeof client === 'string') {
    admin = new Kafka({ clientId: 'int-test-topics', brokers: client.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    own = true;
  } else admin = client;
  let last = 'no metadata yet';
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
        const byName = new Map(meta.map((t) => [t.name, t]));
        const waiting = topics.flatMap((name) => {
          const t = byName.get(name);
          if (t === undefined || t.partitions.length === 0) return [`${name}: no partitions`];
          return t.partitions.filter((p) => p.partitionErrorCode !== 0 || p.leader < 0).map((p) => `${name}[${p.partitionId}]: leader ${p.leader}, error ${p.partitionErrorCode}`);
        });
        if (waiting.length === 0) {
          // Every leader must answer for its partitions too, not only be named in the metadata.
          for (const name of topics) await admin.fetchTopicOffsets(name);
          return;
        }
        last = waiting.join('; ');
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (attempt < attempts) await sleep(everyMs);
    }
    throw new Error(`waitForTopics: not every partition has a serving leader after ${attempts} polls: ${last}`);
  } finally {
    if (own) await admin.disconnect().catch(() => undefined);
  }
}

/** Committed offsets of a group vs the topic's high watermarks. */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<{ committed: number; high: number; lag: number }> {
  const [topicOffsets, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const high = topicOffsets.reduce((n, p) => n + Number(p.high), 0);
  const low = new Map(topicOffsets.map((p) => [p.partition, Number(p.low)]));
  // -1 means nothing committed for the partition: the group is at the partition's start.
  const done = (committed?.partitions ?? []).reduce((n, p) => n + (Number(p.offset) < 0 ? (low.get(p.partition) ?? 0) : Number(p.offset)), 0);
  return { committed: done, high, lag: high - done };
}

let gcFn: (() => void) | undefined | null = null;
/** A real `gc()` even without --expose-gc (V8 flag set at run time), or undefined when not possible. */
export function gc(): (() => void) | undefined {
  if (gcFn !== null) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (gcFn = g);
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = undefined;
  }
  return gcFn;
}

/** heapUsed in MB after a full collection (twice, so weak/finalized objects go too). */
export function heapMb(): number {
  const collect = gc();
  collect?.();
  collect?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A message as it sits in the log. */
export interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

/** Reads topics from their beginning with a throwaway group until `count` records arrived. */
export async function rawRead(kafka: Kafka, topics: readonly string[], count: number, timeoutMs = 30_000): Promise<RawRecord[]> {
  const consumer = kafka.consumer({ groupId: `raw-reader-${randomBytes(6).toString('hex')}`, allowAutoTopicCreation: false });
  const out: RawRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        out.push({ topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, value: message.value, headers });
        if (out.length >= count) done();
      },
    });
    if (count > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`rawRead: ${out.length}/${count} records after ${timeoutMs} ms`)), timeoutMs); })])
        .finally(() => clearTimeout(timer));
    }
    return out;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

/** Deletes every topic under a prefix (best effort). */
export async function deleteTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } catch {
    // best effort
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The repo root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** An `llmo worker` child process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves once the worker printed that it serves (its consumers joined). */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /** What it wrote to stderr so far (last 64 KB). */
  stderr(): string;
}

/** Spawns `node bin/llmo.mjs worker <topology> --brokers … --prefix … --group … --max-in-flight N [args…]`. */
export function spawnWorker(o: { brokers: string; prefix: string; group: string; maxInFlight: number; topology: string; logLevel?: string; args?: readonly string[] }): WorkerProcess {
  const child = spawn(process.execPath, [
    'bin/llmo.mjs', 'worker', o.topology, '--brokers', o.brokers, '--prefix', o.prefix, '--group', o.group, '--max-in-flight', String(o.maxInFlight), ...(o.args ?? []),
  ], { cwd: REPO, env: { ...process.env, LOG_LEVEL: o.logLevel ?? 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-65_536);
    if (/worker \S+ serving '/.test(err)) readyResolve();
  });
  const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => {
    res(code ?? signal ?? 'unknown');
    readyReject(new Error(`worker ${child.pid} exited (${code ?? signal}) before it was ready:\n${err}`));
  }));
  ready.catch(() => undefined);
  return { child, pid: child.pid!, ready, exited, stderr: () => err };
}

/** A running `llmo` CLI process: its exit, and what it printed so far (stderr: the last 200,000 characters). */
export interface LlmoProcess { readonly child: ChildProcess; readonly exited: Promise<number | string>; out(): string; err(): string }

/** Starts `node bin/llmo.mjs <args>` from the repository, logging at `logLevel`. */
export function llmo(args: readonly string[], logLevel = 'info'): LlmoProcess {
  const child = spawn(process.execPath, ['bin/llmo.mjs', ...args], { cwd: REPO, env: { ...process.env, LOG_LEVEL: logLevel }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-200_000); });
  const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => res(code ?? signal ?? 'unknown')));
  return { child, exited, out: () => out, err: () => err };
}
