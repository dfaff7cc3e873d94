// A private broker for a test file that needs its own (a secured one, or one it may stop): its own
// KAFKA_HOME under the OS temp dir and its own ports, started and stopped with scripts/kafka-local.sh.
// The jars are copied from an existing scripts/kafka-local.sh home (KAFKA_LIBS or <repo>/.kafka/libs)
// so no Maven run is needed; without one the script resolves them with mvn as usual.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './support.ts';

/** A running private broker and what its clients need. */
export interface PrivateBroker {
  readonly brokers: string;
  readonly home: string;
  /** The KAFKA_* client variables the script printed (KAFKA_SSL_CA_FILE, KAFKA_SASL_USERNAME, ...). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(REPO, 'scripts', 'kafka-local.sh'), ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port p such that p and p+1 are free on 127.0.0.1 (the script's client and controller ports). */
async function freePair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 30_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair for a private broker');
}

function libsSource(): string | undefined {
  return [process.env.KAFKA_LIBS, path.join(REPO, '.kafka', 'libs')]
    .find((d): d is string => d !== undefined && existsSync(path.join(d, '.complete')));
}

/** Starts a private broker (`security: 'sasl_ssl'` for the secured mode); stop() stops it and removes its home. */
export async function startPrivateBroker(o: { security?: 'plaintext' | 'sasl_ssl'; username?: string; password?: string } = {}): Promise<PrivateBroker> {
  const home = mkdtempSync(path.join(tmpdir(), 'kafka-private-'));
  const libs = libsSource();
  if (libs !== undefined) cpSync(libs, path.join(home, 'libs'), { recursive: true });
  const port = await freePair();
  const env: NodeJS.ProcessEnv = {
    ...process.env, KAFKA_HOME: home, KAFKA_PORT: String(port), KAFKA_SECURITY: o.security ?? 'plaintext',
    ...(o.username === undefined ? {} : { KAFKA_SASL_USERNAME: o.username }),
    ...(o.password === undefined ? {} : { KAFKA_SASL_PASSWORD: o.password }),
  };
  const started = await run(['start'], env);
  if (started.code !== 0) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(`private broker did not start (exit ${started.code}):\n${started.stderr}`);
  }
  const vars = Object.fromEntries(started.stdout.split('\n').flatMap((l) => {
    const m = /^(KAFKA_[A-Z_]+)=(.*)$/.exec(l.trim());
    return m === null ? [] : [[m[1]!, m[2]!]];
  }));
  return {
    brokers: vars['KAFKA_BROKERS']!,
    home,
    env: vars,
    async stop() {
      await run(['stop'], env);
      rmSync(home, { recursive: true, force: true });
    },
  };
}
