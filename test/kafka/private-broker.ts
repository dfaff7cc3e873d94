// A private single-node broker for tests that need their own: fault tests that restart, stop or kill it,
// and a secured (SASL_SSL) one. Never the shared one other suites and engineers use. Runs
// scripts/kafka-local.sh with its own KAFKA_HOME and a free port pair, so it can be stopped and started
// again on the same address with its data kept (a broker restart).
//
//   const broker = await startPrivateBroker({ name: 'faults' });
//   ... createKafkaTransport({ brokers: [broker.brokers] }) ...
//   await broker.restart();         // stop (SIGTERM, clean shutdown) + start, same port, same data
//   await broker.dispose();         // stop and delete its KAFKA_HOME
//
//   const secured = await startPrivateBroker({ security: 'sasl_ssl', username: 'alice', password: 's3cret' });
//   secured.env.KAFKA_SSL_CA_FILE   // what the script printed for clients (CA file, SASL mechanism, user, password)
//
// The broker jars: `libs`, else KAFKA_LOCAL_LIBS or KAFKA_LIBS (a libs/ dir of kafka-local.sh), else
// <repo>/.kafka/libs, whichever is complete first, is linked in; otherwise the script resolves them with
// mvn on first start (as in CI).
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
  /**
   * The KAFKA_* client variables the script printed at the last start: KAFKA_BROKERS, and in the
   * `sasl_ssl` mode KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Starts it again after {@link stop} (same port, same data, same security mode). */
  start(): Promise<void>;
  /** Stops it (SIGTERM; the broker shuts down cleanly, SIGKILL after KAFKA_STOP_TIMEOUT). */
  stop(): Promise<void>;
  /** Stops and starts it. */
  restart(): Promise<void>;
  /** Kills it (SIGKILL: no clean shutdown, as in a crash) and waits until the process is gone; {@link start} brings it back. */
  kill(): Promise<void>;
  /** Stops it and deletes its KAFKA_HOME (when this helper created it). */
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
  /** `plaintext` (default) or `sasl_ssl`: TLS with a generated CA and SASL users (KAFKA_SECURITY of the script). */
  readonly security?: 'plaintext' | 'sasl_ssl';
  /** `sasl_ssl`: the client user (the script's default `llmo`). */
  readonly username?: string;
  /** `sasl_ssl`: its password (the script's default `llmo-secret`). */
  readonly password?: string;
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

/** The first complete kafka-local.sh libs/ directory of the candidates, if any. */
function libsSource(explicit: string | undefined): string | undefined {
  return [explicit, process.env.KAFKA_LOCAL_LIBS, process.env.KAFKA_LIBS, path.join(REPO, '.kafka', 'libs')]
    .find((d): d is string => d !== undefined && d !== '' && existsSync(path.join(d, '.complete')));
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

/** The `KAFKA_X=value` lines of the script's start output. */
function clientVars(out: string): Record<string, string> {
  return Object.fromEntries(out.split('\n').flatMap((l) => {
    const m = /^(KAFKA_[A-Z_]+)=(.*)$/.exec(l.trim());
    return m === null ? [] : [[m[1]!, m[2]!]];
  }));
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
  const libs = libsSource(options.libs);
  if (libs !== undefined && !existsSync(path.join(home, 'libs'))) symlinkSync(libs, path.join(home, 'libs'));
  const port = options.port ?? (await freePair());
  const env: Record<string, string> = {
    KAFKA_HOME: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 1), KAFKA_STOP_TIMEOUT: '30',
    KAFKA_SECURITY: options.security ?? 'plaintext',
    ...(options.username === undefined ? {} : { KAFKA_SASL_USERNAME: options.username }),
    ...(options.password === undefined ? {} : { KAFKA_SASL_PASSWORD: options.password }),
  };
  let vars: Record<string, string> = {};
  const start = async (): Promise<void> => {
    const out = await script('start', env);
    if (!out.includes(`KAFKA_BROKERS=127.0.0.1:${port}`)) throw new Error(`private broker: unexpected start output: ${out}`);
    vars = clientVars(out);
  };
  const stop = async (): Promise<void> => {
    await script('stop', env);
  };
  try {
    await start();
  } catch (e) {
    if (own) rmSync(home, { recursive: true, force: true });
    throw e;
  }
  return {
    brokers: `127.0.0.1:${port}`,
    home,
    port,
    get env() { return vars; },
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
