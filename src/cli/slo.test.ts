/** `--slo <file>`: rules read with the alerts' own parser, alerts printed as one line each on stderr. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, main } from './main.ts';
import { loadSlo } from './slo.ts';

function capture(): { io: { out: Writable; err: Writable; color: boolean; env: NodeJS.ProcessEnv }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'llmo-slo-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--slo', () => {
  it('llmo run --slo: a rule the run breaks prints one FIRING line on stderr', async () => {
    const file = join(tmp, 'slo.yaml');
    writeFileSync(file, 'rules:\n  - { name: slow-runs, kind: p99-latency, threshold: 0.001, windowMs: 60000, minSamples: 1 }\n');
    const c = capture();
    const code = await main(['run', 'topologies/rag.ts', '--input', '{"question":"why?"}', '--json', '--slo', file], c.io);
    expect(code).toBe(EXIT.ok);
    const alerts = c.err().split('\n').filter((l) => l.startsWith('llmo: alert '));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/^llmo: alert FIRING slow-runs: p99 run latency \d+ms > /);
  });

  it('a bad rule names its field; exit 2 before anything runs', async () => {
    const file = join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify({ rules: [{ name: 'f', kind: 'failure-rate', threshold: 2, windowMs: 1000 }] }));
    const c = capture();
    expect(await main(['run', 'topologies/rag.ts', '--input', '{"question":"why?"}', '--slo', file], c.io)).toBe(EXIT.invalid);
    expect(c.err()).toContain(`--slo ${file} is invalid`);
    expect(c.err()).toContain('rules.0.threshold');
    expect(c.out()).toBe('');
  });

  it('loadSlo: no file, no rules; a missing file is one issue', async () => {
    expect(await loadSlo(undefined)).toEqual({ ok: true, rules: undefined });
    const r = await loadSlo(join(tmp, 'nope.yaml'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues[0]!.message).toContain('ENOENT');
  });
});
