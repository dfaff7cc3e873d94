// Vitest globalSetup for the PostgreSQL store tests (test/stores/postgres*.int.test.ts, see vitest.int.config.ts).
// Where the server comes from, first match wins:
//   1. LLMO_PG_URL (postgres://...) when set: used as is, never stopped here;
//   2. a reachable Docker engine: a postgres:15 container through testcontainers;
//   3. scripts/pg-local.sh: a real server from Debian's packages, run as a non-root user.
// The URL reaches the tests as inject('pgUrl'). Teardown stops only what this setup started.
// With CI=true, failing to get a server is an error: a Postgres suite that silently skips must fail CI.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  interface ProvidedContext {
    /** postgres://... of a server the tests may create schemas in; '' when none could be had outside CI (the suites skip). */
    pgUrl: string;
  }
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(REPO, 'scripts', 'pg-local.sh');
/** Same image as docker-compose.yml; PG_IMAGE overrides. */
const PG_IMAGE = process.env.PG_IMAGE ?? 'postgres:15';
const DOCKER_PROBE_MS = 10_000;

interface Server {
  url: string;
  source: string;
  stop(): Promise<void>;
}

const log = (msg: string): void => {
  process.stderr.write(`[postgres global-setup] ${msg}\n`);
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the server version once a client can run a query at `url`. */
export async function waitForPostgres(url: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', (e) => (last = e));
    try {
      await client.connect();
      const r = await client.query<{ server_version: string }>('SHOW server_version');
      return `PostgreSQL ${r.rows[0]?.server_version ?? '?'}`;
    } catch (err) {
      last = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} did not answer within ${timeoutMs} ms: ${String(last)}`);
}

/** Docker reachable? testcontainers fails at once without an engine; the timeout guards a hung socket. */
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

async function startContainer(host: string): Promise<Server> {
  const { GenericContainer, Wait } = await import('testcontainers');
  log(`starting ${PG_IMAGE}...`);
  const container = await new GenericContainer(PG_IMAGE)
    .withExposedPorts(5432)
    .withEnvironment({ POSTGRES_USER: 'llmo', POSTGRES_PASSWORD: 'llmo', POSTGRES_DB: 'llmo' })
    // the image's entrypoint starts a temporary server first: wait for the second "ready" line
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .withStartupTimeout(120_000)
    .start();
  return {
    url: `postgres://llmo:llmo@${host}:${container.getMappedPort(5432)}/llmo`,
    source: `container ${PG_IMAGE}`,
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * Runs scripts/pg-local.sh with `cmd` (and extra environment, e.g. a private PG_HOME/PG_PORT).
 *
 * @example
 * ```ts
 * const { code, stdout } = await pgScript('start', { PG_HOME: dir, PG_PORT: '55999' });
 * ```
 */
export function pgScript(cmd: 'start' | 'stop' | 'status', env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, cmd], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** The URL `pg-local.sh start` printed last, or undefined. */
export function urlOf(stdout: string): string | undefined {
  return /^LLMO_PG_URL=(\S+)\s*$/m.exec(stdout)?.[1];
}

async function startLocal(): Promise<Server> {
  const wasRunning = (await pgScript('status')).code === 0;
  const { code, stdout, stderr } = await pgScript('start');
  process.stderr.write(stderr);
  const url = urlOf(stdout);
  if (code !== 0 || url === undefined) throw new Error(`scripts/pg-local.sh start failed (exit ${code}); see .pg/log/`);
  return {
    url,
    source: wasRunning ? 'scripts/pg-local.sh (already running, left running)' : 'scripts/pg-local.sh',
    stop: async () => {
      if (wasRunning) return;
      const r = await pgScript('stop');
      if (r.code !== 0) log(`scripts/pg-local.sh stop exited ${r.code}: ${r.stderr}`);
    },
  };
}

async function obtain(): Promise<Server> {
  const fromEnv = process.env.LLMO_PG_URL?.trim();
  if (fromEnv) return { url: fromEnv, source: 'LLMO_PG_URL', stop: async () => undefined };
  const errors: string[] = [];
  const host = await dockerHost();
  if (host !== undefined) {
    try {
      return await startContainer(host);
    } catch (err) {
      errors.push(`testcontainers: ${err instanceof Error ? err.message : String(err)}`);
      log(`container failed, falling back to scripts/pg-local.sh: ${errors[0]}`);
    }
  }
  try {
    return await startLocal();
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  throw new Error(`no PostgreSQL server: ${errors.join('; ')}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: Server;
  try {
    server = await obtain();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    log(`${err instanceof Error ? err.message : String(err)}: the PostgreSQL suites will be skipped (an error under CI=true)`);
    project.provide('pgUrl', '');
    return async () => undefined;
  }
  try {
    const info = await waitForPostgres(server.url);
    log(`using ${server.source} (${info})`);
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  project.provide('pgUrl', server.url);
  return async () => {
    await server.stop();
  };
}
