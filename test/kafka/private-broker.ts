// A private single-node broker for fault tests (restart, stop, kill): never the shared one other
// suites and engineers use. Runs scripts/kafka-local.sh with its own KAFKA_HOME and a free port pair, so
// it can be stopped and started again on the same address with its data kept (a broker restart).
//
//   const broker = await startPrivateBroker({ name: 'faults' });
//   ... createKafkaTransport({ brokers: [broker.brokers] }) ...
//   await broker.restart();         // stop (SIGTERM, clean shutdown) + start, same port, same data
//   await broker.dispose();         // stop and delete its KAFKA_HOME
//
// The broker jars: KAFKA_LOCAL_LIBS (a libs/ dir of kafka-local.sh) or <repo>/.kafka/libs when present are
// linked in; otherwise the script resolves them with mvn on first start (as in CI).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './support.ts';

const SCRIPT = path.join(REPO, 'scripts', 'kafka-local.sh');

/** A running (or stopped) private broker. */
export interface PrivateBroker {
  /** `127.0.0.1:PORT`, the same across restarts. */
  readonly brokers: string;
  readonly home: string;
  readonly port: number;
  /** Starts it again after {@link stop} (same port, same data). */
  start(): Promise<void>;
  /** Stops it (SIGTERM; the broker shuts down cleanly, SIGKILL after KAFKA_STOP_TIMEOUT). */
  stop(): Promise<void>;
  /** Stops and starts it. */
  restart(): Promise<void>;
  /** Kills it (SIGKILL: no clean shutdown, as in a crash) and waits until the process is gone; {@link start} brings it back. */
  kill(): Promise<void>;
  /** Stops it and deletes its KAFKA_HOME. */
  dispose(): Promise<void>;
}

/** Options of {@link startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /** Part of the KAFKA_HOME directory name. Default `private`. */
  readonly name?: string;
  /** KAFKA_HOME; default a new directory under the OS temp dir (deleted by dispose). */
  readonly home?: string;
  /** Client port (the controller gets port + 1); default a free pair in 29000–29998. */
  readonly port?: number;
  /** A kafka-local.sh libs/ directory to link instead of resolving the jars with mvn. */
  readonly libs?: string;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePair(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 29_000 + 2 * Math.floor(Math.random() * 500);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('private broker: no free port pair in 29000-29999');
}

function script(cmd: 'start' | 'stop', env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, cmd], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8192)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`kafka-local.sh ${cmd} exited ${code}:\n${err}`))));
  });
}

/**
 * Starts a private broker and resolves once a client can describe the cluster.
 *
 * @example
 * ```ts
 * const broker = await startPrivateBroker({ name: 'restart' });
 * await broker.restart();
 * await broker.dispose();
 * ```
 */
export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const own = options.home === undefined;
  const home = options.home ?? mkdtempSync(path.join(tmpdir(), `kafka-${options.name ?? 'private'}-`));
  const libs = options.libs ?? process.env.KAFKA_LOCAL_LIBS ?? path.join(REPO, '.kafka', 'libs');
  if (existsSync(path.join(libs, '.complete')) && !existsSync(path.join(home, 'libs'))) symlinkSync(libs, path.join(home, 'libs'));
  const port = options.port ?? (await freePair());
  const env = { KAFKA_HOME: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 1), KAFKA_STOP_TIMEOUT: '30' };
  const start = async (): Promise<void> => {
    const out = await script('start', env);
    if (!out.includes(`KAFKA_BROKERS=127.0.0.1:${port}`)) throw new Error(`private broker: unexpected start output: ${out}`);
  };
  const stop = async (): Promise<void> => {
    await script('stop', env);
  };
  await start();
  return {
    brokers: `127.0.0.1:${port}`,
    home,
    port,
    start,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    kill: async () => {
      const pidFile = path.join(home, 'kafka.pid');
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return; // already gone
      }
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`private broker: pid ${pid} still alive after SIGKILL`);
    },
    dispose: async () => {
      await stop().catch(() => undefined);
      if (own) rmSync(home, { recursive: true, force: true });
    },
  };
}
