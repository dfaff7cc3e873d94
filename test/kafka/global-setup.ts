// Vitest globalSetup for the Kafka integration tests (*.int.test.ts, see vitest.int.config.ts).
// Where the broker comes from, first match wins:
//   1. KAFKA_BROKERS (comma-separated host:port) when set: used as is, never stopped here;
//   2. a reachable Docker engine: an apache/kafka container (KRaft) through testcontainers;
//   3. scripts/kafka-local.sh: a real broker from the Maven Central jars (Java 17+ and mvn, no Docker).
// The brokers reach the tests as inject('kafkaBrokers'). Teardown stops only what this setup started.
// With CI=true, failing to get a broker is an error: a Kafka suite that silently skips must fail CI.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import type { TestProject } from 'vitest/node';
import { freePort } from '../support/free-port.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** Comma-separated host:port list; '' when no broker could be had outside CI (the suites skip). */
    kafkaBrokers: string;
  }
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(REPO, 'scripts', 'kafka-local.sh');
/** Same image as docker-compose.yml; KAFKA_IMAGE overrides. */
const KAFKA_IMAGE = process.env.KAFKA_IMAGE ?? 'apache/kafka:4.1.0';
const DOCKER_PROBE_MS = 10_000;

interface Broker {
  brokers: string;
  source: string;
  stop(): Promise<void>;
}

const log = (msg: string): void => {
  process.stderr.write(`[kafka global-setup] ${msg}\n`);
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once a client can describe the cluster at `brokers`. */
export async function waitForKafka(brokers: string, timeoutMs = 60_000): Promise<string> {
  const kafka = new Kafka({
    clientId: 'kafka-global-setup',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const c = await admin.describeCluster();
      if (c.brokers.length > 0 && c.controller !== null) {
        return `cluster ${c.clusterId}: ${c.brokers.length} broker(s), controller ${c.controller}`;
      }
      last = new Error('no brokers or no controller yet');
    } catch (err) {
      last = err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Kafka at ${brokers} did not answer within ${timeoutMs} ms: ${String(last)}`);
}

/** Docker reachable? testcontainers 11 fails at once without an engine; the timeout guards a hung socket. */
async function dockerHost(): Promise<string | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_MS, 'container runtime');
    return client.info.containerRuntime.host;
  } catch (err) {
    log(`no container runtime (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  }
}

async function startContainer(host: string): Promise<Broker> {
  const { GenericContainer, Wait } = await import('testcontainers');
  // The advertised address must be the one the host reaches: bind a chosen free host port to 9092.
  const port = await freePort();
  log(`starting ${KAFKA_IMAGE} on ${host}:${port}...`);
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},BROKER://localhost:9094`,
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  return {
    brokers: `${host}:${port}`,
    source: `container ${KAFKA_IMAGE}`,
    stop: async () => {
      await container.stop();
    },
  };
}

function runScript(cmd: 'start' | 'stop' | 'status'): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    // stdout is piped (start prints KAFKA_BROKERS=...), progress on stderr goes straight through.
    const child = spawn('bash', [SCRIPT, cmd], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout });
    });
  });
}

async function startLocal(): Promise<Broker> {
  const wasRunning = (await runScript('status')).code === 0;
  const { code, stdout } = await runScript('start');
  const brokers = /^KAFKA_BROKERS=(\S+)\s*$/m.exec(stdout)?.[1];
  if (code !== 0 || !brokers) {
    throw new Error(`scripts/kafka-local.sh start failed (exit ${code}); see .kafka/logs/`);
  }
  return {
    brokers,
    source: wasRunning ? 'scripts/kafka-local.sh (already running, left running)' : 'scripts/kafka-local.sh',
    stop: async () => {
      if (wasRunning) return;
      const r = await runScript('stop');
      if (r.code !== 0) log(`scripts/kafka-local.sh stop exited ${r.code}`);
    },
  };
}

async function obtain(): Promise<Broker> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv, source: 'KAFKA_BROKERS', stop: async () => undefined };
  const errors: string[] = [];
  const host = await dockerHost();
  if (host !== undefined) {
    try {
      return await startContainer(host);
    } catch (err) {
      errors.push(`testcontainers: ${err instanceof Error ? err.message : String(err)}`);
      log(`container failed, falling back to scripts/kafka-local.sh: ${errors[0]}`);
    }
  }
  try {
    return await startLocal();
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  throw new Error(`no Kafka broker: ${errors.join('; ')}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let broker: Broker;
  try {
    broker = await obtain();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    log(`${err instanceof Error ? err.message : String(err)}: the Kafka suites will be skipped (an error under CI=true)`);
    project.provide('kafkaBrokers', '');
    return async () => undefined;
  }
  try {
    const info = await waitForKafka(broker.brokers);
    log(`using ${broker.brokers} from ${broker.source} (${info})`);
  } catch (err) {
    await broker.stop().catch(() => undefined);
    throw err;
  }
  project.provide('kafkaBrokers', broker.brokers);
  return async () => {
    await broker.stop();
  };
}
