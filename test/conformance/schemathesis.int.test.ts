/**
 * The HTTP API against its own OpenAPI document, driven by Schemathesis (PyPI; a real third-party
 * property-based tester, as outside testers run it): every operation, every check (server errors,
 * status codes and bodies against the document, schema-valid requests accepted and invalid ones
 * refused, methods a path does not answer, ignored authentication, use after free, each Server-Sent
 * Event of a stream against the document), through the examples, coverage, fuzzing and stateful phases,
 * with a fixed seed.
 *
 * Needs `st` (`bash scripts/schemathesis-local.sh install`, which `.ci/run` runs; or LLMO_SCHEMATHESIS):
 * skipped without it, except under CI=true, where it fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createLocalBackend } from '../../src/server/backend.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';

const ST = process.env['LLMO_SCHEMATHESIS'] ?? join(homedir(), '.cache/llmo/schemathesis-4.32.5/bin/st');
const have = existsSync(ST);
const inCi = process.env['CI'] === 'true';

const shout = topology('shout', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'out' });

const approval = topology('approval', { input: z.object({ topic: z.string().min(1) }) })
  .map('draft', { run: ({ input }) => `a post about ${input.topic}` })
  .wait('gate', { after: ['draft'], name: 'approval', schema: z.object({ approved: z.boolean() }), timeoutMs: 86_400_000 })
  .map('out', { after: ['draft', 'gate'], run: ({ deps }) => (deps.gate.approved ? deps.draft : 'rejected') })
  .build({ output: 'out' });

/** Runs `st` with `args`; resolves with its exit code and everything it printed. */
function st(args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ST, args, { cwd, env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The end of st's report: its failures and summary, enough to read why a run failed. */
const tail = (output: string): string => output.slice(-6000);

describe.skipIf(!have && !inCi)(`the HTTP API under Schemathesis${have ? '' : ` (${ST} is missing: bash scripts/schemathesis-local.sh install)`}`, () => {
  let engine: Engine;
  let server: LlmoServer;
  let base: string;
  let dir: string;
  let admin: string;
  let spareKeyId: string;

  beforeAll(async () => {
    if (!have) throw new Error(`CI=true and ${ST} is missing: .ci/run installs it with scripts/schemathesis-local.sh`);
    engine = createEngine({ store: createMemoryStore(), topologies: [shout, approval] });
    const keys = createMemoryKeyStore();
    admin = (await keys.create({ tenant: 'acme', roles: { '*': 'admin' }, name: 'schemathesis' })).secret;
    spareKeyId = (await keys.create({ tenant: 'acme', roles: { shout: 'viewer' }, name: 'spare' })).keyId;
    // limits high enough for a fuzzer's pace (the limits themselves are tested in src/server/auth.test.ts)
    server = await createServer({ backend: createLocalBackend(engine, [shout, approval]), runs: engine.runs, keys }, {
      port: 0, rateLimit: { max: 1_000_000, windowMs: 60_000 }, failedAuthLimit: { max: 1_000_000, windowMs: 60_000 },
    });
    base = await server.listen();
    // runs for the operations on one run: run-1 waits for a signal, run-2 completed
    await engine.run(approval, { topic: 'fuzzing' }, { runId: 'run-1' });
    expect((await engine.run(shout, { text: 'hi' }, { runId: 'run-2' })).status).toBe('completed');
    dir = mkdtempSync(join(tmpdir(), 'llmo-schemathesis-'));
    // Where a request's validity depends on data the public document does not carry (a topology's input
    // schema, the run's node ids, a wait node's payload schema), a 400 naming the field is the right answer.
    writeFileSync(join(dir, 'schemathesis.toml'), `
[parameters]
id = "run-1"
name = "approval"
keyId = "${spareKeyId}"

[[operations]]
include-name = ["POST /v1/runs", "POST /v1/runs/{id}/fork", "POST /v1/runs/{id}/signals/{name}"]
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 404, 409]

# a run that ended: its stream replays the log and closes (each event checked against the document)
[[operations]]
include-name = "GET /v1/runs/{id}/stream"
parameters = { id = "run-2" }
`);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await engine?.shutdown();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const common = (): string[] => [
    '--checks', 'all', '--seed', '1', '--generation-deterministic',
    '--max-examples', '40', '--request-timeout', '20', '--no-color', '-H', `Authorization: Bearer ${admin}`,
  ];

  it('every operation but revoking a key passes every check in every phase', async () => {
    // revoking keys goes last, alone (it could revoke the key the run uses)
    const r = await st(['run', `${base}/openapi.json`, ...common(), '--exclude-name', 'DELETE /v1/keys/{keyId}'], dir);
    expect(r.output, tail(r.output)).toMatch(/Tested: 17\b/);
    expect(r.code, tail(r.output)).toBe(0);
  }, 300_000);

  it('revoking a key passes every check', async () => {
    const r = await st(['run', `${base}/openapi.json`, ...common(), '--include-name', 'DELETE /v1/keys/{keyId}'], dir);
    expect(r.output, tail(r.output)).toMatch(/Tested: 1\b/);
    expect(r.code, tail(r.output)).toBe(0);
  }, 120_000);
});
