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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createLocalBackend } from '../../src/server/backend.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { haveSchemathesis as have, reportTail as tail, schemathesis as st, schemathesisArgs, ST, writeSchemathesisConfig } from './schemathesis.ts';

const inCi = process.env['CI'] === 'true';

const shout = topology('shout', { input: z.object({ text: z.string() }) })
  .map('out', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'out' });

const approval = topology('approval', { input: z.object({ topic: z.string().min(1) }) })
  .map('draft', { run: ({ input }) => `a post about ${input.topic}` })
  .wait('gate', { after: ['draft'], name: 'approval', schema: z.object({ approved: z.boolean() }), timeoutMs: 86_400_000 })
  .map('out', { after: ['draft', 'gate'], run: ({ deps }) => (deps.gate.approved ? deps.draft : 'rejected') })
  .build({ output: 'out' });

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
    writeSchemathesisConfig(dir, { runId: 'run-1', endedRunId: 'run-2', signal: 'approval', spareKeyId });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await engine?.shutdown();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const common = (): string[] => schemathesisArgs(admin, 40);

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
