/**
 * The `llmo` CLI. Most tests call main() in-process with captured streams; the
 * "built CLI" tests spawn bin/llmo.mjs, which runs the compiled CLI in dist/.
 * PRECONDITION of those: `npm run build` has run (`npm test` builds first).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { closedPort } from './support/helpers.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { throwError } from 'rxjs';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, topology } from '../src/index.ts';
import { createMemoryTransport, type Transport } from '../src/transports/index.ts';
import { createClient, createWorker } from '../src/worker/index.ts';
import { main, EXIT } from '../src/cli/main.ts';
import { submitCommand } from '../src/cli/commands/submit.ts';
import { setUpTypeScript } from '../src/cli/typescript.ts';
import type { KafkaTransport } from '../src/transports/kafka/index.ts';

function capture(): { io: { out: Writable; err: Writable; color: boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false }, out: () => out, err: () => err };
}

const count = (text: string, part: string): number => text.split(part).length - 1;


let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'llmo-cli-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('llmo CLI', () => {
  it('validate: a good topology passes', async () => {
    const c = capture();
    expect(await main(['validate', 'topologies/rag.ts'], c.io)).toBe(EXIT.ok);
    expect(c.out()).toContain("topology 'rag' is valid");
  });

  it('validate: names the cycle and the missing dependency, exits non-zero', async () => {
    const c = capture();
    expect(await main(['validate', 'test/fixtures/cycle.yaml'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain('cycle: draft -> verify -> draft');
    expect(c.err()).toContain("nodes.2.after.0: node 'orphan' depends on missing node 'missing'");
  });

  it('validate: names bad fields of a malformed document', async () => {
    const c = capture();
    expect(await main(['validate', 'test/fixtures/bad-field.yaml'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toMatch(/nodes\.1\.cap/);
    expect(c.err()).toMatch(/nodes\.2\.kind/);
  });

  it('validate: unknown operator lists the registered ones', async () => {
    const c = capture();
    const code = await main(['validate', 'test/fixtures/unknown-op.yaml', '--ops', 'test/fixtures/cycle.ops.ts'], c.io);
    expect(code).toBe(EXIT.invalid);
    expect(c.err()).toContain("nodes.1.op: unknown map operator 'summarise' (registered: echo)");
  });

  it('validate: a missing --ops module is named', async () => {
    const c = capture();
    expect(await main(['validate', 'test/fixtures/unknown-op.yaml', '--ops', 'test/fixtures/nope.ops.ts'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain('no such ops module: test/fixtures/nope.ops.ts');
  });

  it('validate: a 20,000-node JSON chain with a .ops.mjs registry is valid', async () => {
    const n = 20_000;
    const nodes = Array.from({ length: n }, (_, i) => (i === 0 ? { id: 'n0', kind: 'map', op: 'inc' } : { id: `n${i}`, kind: 'map', op: 'inc', after: [`n${i - 1}`] }));
    const file = join(tmp, 'chain.json');
    writeFileSync(file, JSON.stringify({ name: 'chain', output: `n${n - 1}`, nodes }));
    writeFileSync(join(tmp, 'chain.ops.mjs'), "import { createRegistry } from 'llm-orchestrator/documents';\nexport default createRegistry().map('inc', ({ input }) => input);\n");
    const c = capture();
    expect(await main(['validate', file], c.io)).toBe(EXIT.ok);
    expect(c.out()).toContain(`topology 'chain' is valid (${n} nodes)`);
  });

  it('run --json prints only the result and keeps partial outputs of a failed run', async () => {
    const c = capture();
    expect(await main(['run', 'test/fixtures/failing.ts', '--json'], c.io)).toBe(EXIT.runFailed);
    const r = JSON.parse(c.out()) as { status: string; outputs: Record<string, unknown>; error: { nodeId: string; retriable: boolean } };
    expect(r.status).toBe('failed');
    expect(r.outputs).toEqual({ ok: 'fine' });
    expect(r.error).toMatchObject({ nodeId: 'boom', retriable: true });
    expect(c.err()).toBe('');
  });

  it('run shows progress and the result', async () => {
    const c = capture();
    const code = await main(['run', 'topologies/rag.ts', '--input', '{"question":"how do routes and joins work?"}'], c.io);
    expect(code).toBe(EXIT.ok);
    expect(c.err()).toContain('● retrieve');
    expect(c.err()).toContain('✓ verdict');
    expect(c.err()).toContain('SIMULATED');
    expect(c.err()).toMatch(/draft(Concise|Detailed) ▏/); // tokens printed live
    const out = JSON.parse(c.out()) as { sources: string[]; model: string };
    expect(out.sources).toContain('dag-1');
    expect(out.model).toBe('sim:default (SIMULATED)');
  });

  it('run: input that fails the topology schema is a usage error, each issue printed once', async () => {
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', '{"q":1}'], c.io)).toBe(EXIT.invalid);
    expect(count(c.err(), 'input.question: Invalid input: expected string, received undefined')).toBe(1);
    expect(c.err()).toContain("--input for topology 'rag' is invalid");
    expect(c.err()).not.toContain('completed nodes');
    const wrongType = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', '{"question":1}', '--json'], wrongType.io)).toBe(EXIT.invalid);
    expect(count(wrongType.err(), 'input.question')).toBe(1);
    expect(wrongType.out()).toBe('');
  });

  it('run: --input that is not JSON names --input and the JSON problem', async () => {
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', '{question: hi}'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toMatch(/^llmo: --input is not valid JSON \(.+\): \{question: hi\}\n$/);
  });

  it('run: --input @file that is missing, or not JSON, is named', async () => {
    const missing = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', `@${join(tmp, 'nope.json')}`], missing.io)).toBe(EXIT.invalid);
    expect(missing.err()).toBe(`llmo: --input @${join(tmp, 'nope.json')}: cannot read ${join(tmp, 'nope.json')}: no such file\n`);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{question: hi}');
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', `@${bad}`], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain(`llmo: --input @${bad} is not valid JSON (`);
  });

  it('graph renders mermaid and dot', async () => {
    const m = capture();
    expect(await main(['graph', 'topologies/rag.yaml'], m.io)).toBe(EXIT.ok);
    expect(m.out()).toContain('flowchart TD');
    expect(m.out()).toContain('-- "publish" -->');
    const d = capture();
    expect(await main(['graph', 'topologies/rag.ts', '--format', 'dot'], d.io)).toBe(EXIT.ok);
    expect(d.out()).toContain('digraph "rag"');
  });

  it('--help lists the commands and the exit codes', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(EXIT.ok);
    for (const cmd of ['run', 'validate', 'graph', 'worker', 'submit']) expect(c.out()).toContain(cmd);
    expect(c.out()).toContain('Exit codes: 0 completed, 1 run failed or timed out waiting, 2 invalid usage');
    expect(c.out()).toContain('69 Kafka unreachable, 77 Kafka credentials refused or TLS failed');
  });

  it('unknown command exits with the usage code', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(EXIT.invalid);
  });
});

describe('llmo submit', () => {
  it('a broker that refuses connections is one clear line and exit 69 (unavailable), not the usage code', async () => {
    const port = await closedPort();
    const c = capture();
    expect(await main(['submit', 'rag', '--brokers', `127.0.0.1:${port}`], c.io)).toBe(EXIT.unavailable);
    expect(c.err()).toMatch(new RegExp(`^llmo: cannot reach Kafka at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`));
    expect(c.out()).toBe('');
  });

  it('a broker list that is not host:port names --brokers', async () => {
    const c = capture();
    expect(await main(['submit', 'rag', '--brokers', 'nohost'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain('--brokers.0: expected host:port');
  });

  const echo = topology('echo', { input: z.object({ text: z.string() }) })
    .map('upper', { run: ({ input }) => input.text.toUpperCase() })
    .build({ output: 'upper' });
  const memory = (): KafkaTransport => Object.assign(createMemoryTransport(), { ensureTopics: async () => undefined });
  const opts = { brokers: '127.0.0.1:9092', prefix: 'llmo', count: 2, input: '{"text":"hi"}' };

  it('says what it waits for, and with no worker gives up after --timeout with exit 1', async () => {
    const transport = memory();
    const c = capture();
    expect(await submitCommand('echo', { ...opts, timeout: 50 }, c.io, () => ({ ok: true, transport }))).toBe(EXIT.runFailed);
    expect(c.err()).toContain('waiting for 2 result(s) from the worker group on topic llmo.run-results');
    expect(c.err()).toContain('llmo: timed out after 50 ms: 2 of 2 result(s) missing');
    expect(c.out()).toBe('');
  });

  it('prints each result as a JSON line, exit 0', async () => {
    const transport = memory();
    const worker = createWorker({ engine: createEngine(), transport, topologies: [echo], maxInFlight: 2 });
    await worker.start();
    const c = capture();
    expect(await submitCommand('echo', { ...opts, timeout: 60_000 }, c.io, () => ({ ok: true, transport }))).toBe(EXIT.ok);
    const lines = c.out().trim().split('\n').map((l) => JSON.parse(l) as { status: string; output: unknown });
    expect(lines).toHaveLength(2);
    expect(lines.every((r) => r.status === 'completed' && r.output === 'HI')).toBe(true);
    await worker.stop();
  });

  it('client: a failing result stream rejects the waiting submits (no unhandled RxJS error)', async () => {
    const broken = new Error('no broker');
    const base = createMemoryTransport();
    const transport: Transport = { kind: base.kind, topics: base.topics, health: base.health, events$: base.events$, send: (k, m) => base.send(k, m), consume: (k, o, h) => base.consume(k, o, h), read: () => throwError(() => broken), close: () => base.close() };
    const client = createClient(transport);
    await expect(client.submit('echo', { text: 'hi' })).rejects.toBe(broken);
    expect(client.failure).toBe(broken);
    await client.close();
  });
});

describe('TypeScript files', () => {
  const scoped = async (): Promise<unknown> => ({ default: 'tsx' });
  const missing = async (): Promise<never> => { throw Object.assign(new Error("Cannot find package 'tsx'"), { code: 'ERR_MODULE_NOT_FOUND' }); };

  it('tsx is registered when installed, and TypeScript files load through its namespace', async () => {
    let registered = 0;
    const r = await setUpTypeScript({ registerTsx: async () => { registered++; return scoped; }, typescript: 'strip' });
    expect(r).toMatchObject({ ok: true, via: 'tsx' });
    expect(registered).toBe(1);
    expect(r.ok && await r.load('file:///x.ts', 'file:///')).toEqual({ default: 'tsx' });
  });

  it("without tsx, Node's own type stripping is used where available", async () => {
    expect(await setUpTypeScript({ registerTsx: missing, typescript: 'strip' })).toMatchObject({ ok: true, via: 'node' });
  });

  it('without either, the message says to install tsx or use .js/.json/.yaml', async () => {
    const r = await setUpTypeScript({ registerTsx: missing, typescript: undefined });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/npm i -D tsx.*\.js\/\.mjs.*\.json\/\.yaml/);
  });
});

/** Spawns the built CLI (bin/llmo.mjs -> dist/src/cli/main.js); `trace` records every module the process resolves. */
function llmo(args: readonly string[], trace?: string): Promise<{ code: number; out: string; err: string }> {
  const pre = trace === undefined ? [] : ['--import', './test/fixtures/trace-imports.mjs'];
  return new Promise((resolve) => {
    execFile(process.execPath, [...pre, 'bin/llmo.mjs', ...args], { env: { ...process.env, LLMO_TRACE_FILE: trace ?? '' } }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out, err });
    });
  });
}

const HEAVY = ['/node_modules/kafkajs/', '/node_modules/avsc/', '/node_modules/pino/', '/dist/src/worker/', '/dist/src/transports/kafka/'];

describe('the built CLI (bin/llmo.mjs; precondition: npm run build)', () => {
  beforeAll(() => {
    if (!existsSync('dist/src/cli/main.js')) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });

  it('--help loads commander and the CLI entry (its command declarations), nothing else', async () => {
    const trace = join(tmp, 'help.trace');
    const r = await llmo(['--help'], trace);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('Usage: llmo');
    const loaded = readFileSync(trace, 'utf8').trim().split('\n').filter((u) => u.startsWith('file:'));
    const unexpected = loaded.filter((u) => !/\/bin\/llmo\.mjs$|\/dist\/src\/cli\/(main|exit|option-values|shared-options|[a-z]+-commands)\.js$|\/node_modules\/commander\//.test(u));
    expect(unexpected).toEqual([]);
  });

  it('validate of a YAML topology with a TypeScript ops module: tsx on demand, no Kafka, worker or pino', async () => {
    const trace = join(tmp, 'validate.trace');
    const r = await llmo(['validate', 'topologies/rag.yaml'], trace);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain("topology 'rag-yaml' is valid (10 nodes)");
    const loaded = readFileSync(trace, 'utf8');
    expect(HEAVY.filter((m) => loaded.includes(m))).toEqual([]);
    expect(loaded).toContain('/topologies/rag.ops.ts');
  });

  it('validate of a JSON topology with a .mjs ops module loads no tsx', async () => {
    const dir = mkdtempSync(join(process.cwd(), 'test/fixtures/.tmp-'));
    try {
      writeFileSync(join(dir, 'hello.json'), JSON.stringify({ name: 'hello', nodes: [{ id: 'greet', kind: 'map', op: 'greet' }] }));
      writeFileSync(join(dir, 'hello.ops.mjs'), "import { createRegistry } from 'llm-orchestrator/documents';\nexport default createRegistry().map('greet', () => 'hi');\n");
      const trace = join(tmp, 'json.trace');
      const r = await llmo(['validate', join(dir, 'hello.json')], trace);
      expect(r.code).toBe(EXIT.ok);
      expect(r.out).toContain("topology 'hello' is valid (1 nodes)");
      expect(readFileSync(trace, 'utf8')).not.toContain('/node_modules/tsx/');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reader that closes the pipe early (llmo graph | head) is no error: exit 0, no stack trace', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/llmo.mjs', 'graph', 'topologies/rag.yaml'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
      child.stdout.destroy(); // the reader is gone before the first line, as after `head -0`: every write fails with EPIPE
      child.on('close', (code) => resolve({ code, err }));
    });
    expect(r.err).not.toContain('EPIPE');
    expect(r.code).toBe(EXIT.ok);
  });

  it('a .ts topology in a "type": "commonjs" package (what npm init writes) loads and runs', async () => {
    const r = await llmo(['run', 'test/fixtures/cjs-package/flow.ts', '--input', '{"n":21}', '--json']);
    expect(r.err).not.toContain('Cannot require() ES Module');
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ status: 'completed', output: 42 });
  });

  it('run with --input that is not JSON: exit 2 and a message naming --input', async () => {
    const r = await llmo(['run', 'topologies/rag.ts', '--input', '{question: hi}']);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/^llmo: --input is not valid JSON/);
  });

  it('submit to a refused port: one line, exit 69, no stack trace', async () => {
    const port = await closedPort();
    const r = await llmo(['submit', 'rag', '--brokers', `127.0.0.1:${port}`]);
    expect(r.code).toBe(EXIT.unavailable);
    expect(r.err).toMatch(new RegExp(`^llmo: cannot reach Kafka at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED[^\\n]*\\n$`));
  });
});
