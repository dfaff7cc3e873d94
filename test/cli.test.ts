import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main, EXIT } from '../src/cli/main.ts';

function capture(): { io: { out: Writable; err: Writable; color: boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false }, out: () => out, err: () => err };
}

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

  it('run: bad input names the field', async () => {
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', '{"question":1}'], c.io)).toBe(EXIT.runFailed);
    expect(c.err()).toContain('input.question');
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

  it('unknown command exits with the usage code', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(EXIT.invalid);
  });
});
