import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main, EXIT } from '../../src/cli/main.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { createSqliteStore } from '../../src/stores/sqlite/store.ts';
import tenTopology from './fixtures/ten-topology.ts';
import rag, { engineOptions as ragOptions } from '../../topologies/rag.ts';
import { crashingStore, until } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmo-durable-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = 'test/durable/fixtures/ten-topology.ts';

function capture(env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env }, out: () => out, err: () => err };
}

describe('llmo with --store', () => {
  it('run --store records the run; runs ls|show|history read it (table and --json)', async () => {
    const db = join(dir, 'a.db');
    const c = capture();
    expect(await main(['run', FILE, '--store', db, '--input', '{"i":4}', '--json', '--tenant', 'acme', '--user', 'ana', '--project', 'search'], c.io)).toBe(EXIT.ok);
    const result = JSON.parse(c.out()) as { runId: string; output: string };
    const human = capture();
    expect(await main(['runs', 'show', result.runId, '--store', db], human.io)).toBe(EXIT.ok);
    expect(human.out().split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(new RegExp(`^run ${result.runId} · ten \\(v2:\\S+…\\) · completed · tenant acme$`)),
      expect.stringMatching(/^created \S+ · updated \S+ · \d+ events$/),
      'user ana · project search',
    ]);
    const ls = capture({ LLMO_STORE: db });
    expect(await main(['runs', 'ls', '--json', '--status', 'completed', '--topology', 'ten'], ls.io)).toBe(EXIT.ok);
    const rows = ls.out().trim().split('\n').map((l) => JSON.parse(l) as { runId: string; status: string; output: unknown });
    expect(rows.map((r) => [r.runId, r.status, r.output])).toEqual([[result.runId, 'completed', result.output]]);
    const table = capture();
    expect(await main(['runs', 'ls', '--store', db], table.io)).toBe(EXIT.ok);
    expect(table.out()).toMatch(new RegExp(`RUN +TOPOLOGY +STATUS[^\\n]*\\n${result.runId} +ten +completed`));
    const show = capture();
    expect(await main(['runs', 'show', result.runId, '--store', db, '--json'], show.io)).toBe(EXIT.ok);
    expect((JSON.parse(show.out()) as { state: { status: string; outputs: Record<string, unknown> } }).state.outputs['final']).toBe(result.output);
    const hist = capture();
    expect(await main(['runs', 'history', result.runId, '--store', db], hist.io)).toBe(EXIT.ok);
    expect(hist.out().split('\n')[0]).toMatch(/^ +0 +\S+ +run\.started/);
    const missing = capture();
    expect(await main(['runs', 'show', 'nope', '--store', db], missing.io)).toBe(EXIT.runFailed);
    expect(await main(['runs', 'ls', '--status', 'bogus', '--store', db], capture().io)).toBe(EXIT.invalid);
    expect(await main(['runs', 'ls'], capture().io)).toBe(EXIT.invalid);
  });

  it('runs ls pages with --cursor and filters by --tenant; a bad cursor is exit 2', async () => {
    const db = join(dir, 'pages.db');
    const store = createSqliteStore({ path: db });
    const engine = createEngine({ store });
    for (let i = 0; i < 5; i++) await engine.run(tenTopology, { i }, { runId: `p${i}`, tenant: i % 2 === 0 ? 'acme' : 'other' });
    await engine.shutdown();
    await store.close();

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 3; page++) {
      const c = capture();
      expect(await main(['runs', 'ls', '--store', db, '--json', '--limit', '2', ...(cursor === undefined ? [] : ['--cursor', cursor])], c.io)).toBe(EXIT.ok);
      seen.push(...c.out().trim().split('\n').map((l) => (JSON.parse(l) as { runId: string }).runId));
      cursor = /more runs: add --cursor (\S+)/.exec(c.err())?.[1];
      if (page < 2) expect(cursor, c.err()).toBeDefined();
    }
    expect(cursor).toBeUndefined();
    expect(seen.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);

    const acme = capture();
    expect(await main(['runs', 'ls', '--store', db, '--tenant', 'acme'], acme.io)).toBe(EXIT.ok);
    const lines = acme.out().trim().split('\n');
    expect(lines[0]).toMatch(/^RUN +TOPOLOGY +STATUS +TENANT +UPDATED/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 4))).toEqual([['p4', 'ten', 'completed', 'acme'], ['p2', 'ten', 'completed', 'acme'], ['p0', 'ten', 'completed', 'acme']]);

    const bad = capture();
    expect(await main(['runs', 'ls', '--store', db, '--cursor', 'nope'], bad.io)).toBe(EXIT.invalid);
    expect(bad.err()).toContain('--cursor nope: not a cursor');
  });

  it('recover --store finishes a run a killed process left, then reports it', async () => {
    const db = join(dir, 'b.db');
    const base = createSqliteStore({ path: db });
    const crashed = crashingStore(base, 6);
    const dead = createEngine({ store: crashed, durable: { owner: 'elsewhere:1:gone', leaseMs: 50 } });
    void dead.run(tenTopology, { i: 3 }, { runId: 'left' });
    await until(() => crashed.crashed);
    await new Promise((r) => setTimeout(r, 60)); // its lease expires
    await base.close();
    const c = capture();
    expect(await main(['recover', '--store', db, FILE, '--json'], c.io)).toBe(EXIT.ok);
    const lines = c.out().trim().split('\n').map((l) => JSON.parse(l) as { runId: string; status: string });
    expect(lines.map((l) => [l.runId, l.status])).toEqual([['left', 'completed']]);
    const again = capture();
    expect(await main(['recover', '--store', db, FILE], again.io)).toBe(EXIT.ok);
    expect(again.err()).toContain('resuming 0 run(s)');
    expect(await main(['recover', FILE], capture().io)).toBe(EXIT.invalid);
  });

  // A rag run (its file exports engineOptions: pools { llm: 4 }) left after run.started and the retrieve node's start.
  async function leftRag(name: string): Promise<string> {
    const db = join(dir, name);
    const base = createSqliteStore({ path: db });
    const crashed = crashingStore(base, 3);
    const dead = createEngine({ ...ragOptions, store: crashed, durable: { owner: 'elsewhere:1:gone', leaseMs: 50 } });
    void dead.run(rag, { question: 'How does backpressure keep memory bounded?', topK: 3 }, { runId: 'rag-left' });
    await until(() => crashed.crashed);
    await new Promise((r) => setTimeout(r, 60)); // its lease expires
    await base.close();
    return db;
  }

  it('recover builds its engine with the engine options the topology file exports (a rag run needs its llm pool)', async () => {
    const db = await leftRag('rag.db');
    const c = capture();
    expect(await main(['recover', '--store', db, 'topologies/rag.ts', '--json'], c.io), c.err()).toBe(EXIT.ok);
    expect(c.out().trim().split('\n').map((l) => (JSON.parse(l) as { status: string }).status)).toEqual(['completed']);
  });

  it('recover --governance checks the resumed runs as llmo run does, and --audit records them', async () => {
    const db = await leftRag('rag-gov.db');
    const rules = join(dir, 'gov.yaml');
    writeFileSync(rules, 'policies:\n  rules:\n    - { name: no-calls, stage: call, action: deny, message: no model calls after a crash }\n');
    const audit = join(dir, 'audit.jsonl');
    const c = capture();
    expect(await main(['recover', '--store', db, 'topologies/rag.ts', '--governance', rules, '--audit', audit], c.io)).toBe(EXIT.runFailed);
    expect(c.err()).toContain('no model calls after a crash');
    const records = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { actor?: string; runId?: string });
    expect(records.some((r) => r.runId === 'rag-left')).toBe(true);
    const v = capture();
    expect(await main(['audit', 'verify', '--file', audit], v.io), v.err()).toBe(EXIT.ok);
    // a governance file that does not parse is refused (exit 2), naming the field
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'policies:\n  rules:\n    - { name: x, action: route }\n');
    const b = capture();
    expect(await main(['recover', '--store', db, 'topologies/rag.ts', '--governance', bad], b.io)).toBe(EXIT.invalid);
    expect(b.err()).toMatch(/policies\.rules\.0/);
  });

  it('refuses a store it cannot open with exit 2', async () => {
    const c = capture();
    expect(await main(['runs', 'ls', '--store', 'bogus://x'], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain('--store bogus://x');
  });
});
