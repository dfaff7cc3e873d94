// `npm run demo:loop` runs as a user runs it (a child process on the source, through tsx), with a
// small run count: the bandit's table converges on sim:medium, and the bad canary is started and
// rolled back, each step printed.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngine } from 'llm-orchestrator';
import { checkPolicyAgainst, parsePolicyDocument } from 'llm-orchestrator/loops';
import { BAD_CANARY_POLICY, BANDIT_POLICY, sumQa } from '../topologies/loop-demo.ts';
import { sumJudge } from '../topologies/loop-demo-judge.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function demo(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const script = (JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts['demo:loop']!;
  // the npm script's node flags and file, run with this node
  const argv = script.split(/\s+/).slice(1);
  return new Promise((resolve) => {
    execFile(process.execPath, [...argv, ...args], { cwd: REPO, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err });
    });
  });
}

describe('npm run demo:loop', () => {
  it('prints the traffic share converging on sim:medium, then a bad canary started and rolled back', async () => {
    const { code, out, err } = await demo(['--runs', '1200', '--every', '300']);
    expect(err).toBe('');
    expect(code, out).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toContain('SIMULATED');
    const header = lines.findIndex((l) => /runs\s+sim:small\s+sim:medium\s+sim:large\s+right/.test(l));
    expect(header).toBeGreaterThan(0);
    const rows = lines.slice(header + 1, header + 5).map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => Number(r[0]))).toEqual([300, 600, 900, 1200]);
    // the last row: sim:medium takes most traffic (columns: runs, small %, medium %, large %, right, µUSD)
    const [, small, , medium, , large] = rows[3]!;
    expect(Number(medium)).toBeGreaterThan(Number(small));
    expect(Number(medium)).toBeGreaterThan(Number(large));
    expect(Number(medium)).toBeGreaterThanOrEqual(60);
    expect(out).toMatch(/policy\.applied v1/);
    expect(out).toMatch(/policy\.applied v2/);
    const started = lines.findIndex((l) => /canary\.step started: v2 takes 10 % of runs/.test(l));
    const rolled = lines.findIndex((l) => /canary\.step rolled_back: v2/.test(l));
    expect(started).toBeGreaterThan(header);
    expect(rolled).toBeGreaterThan(started);
    expect(out).toMatch(/The canary was rolled back; policy v\d+ is current\./);
    expect(out).toMatch(/feedback received (\d+), joined \1;/);
  }, 60_000);

  it('refuses a bad flag with the usage and exit code 2', async () => {
    const { code, err } = await demo(['--runs', 'x']);
    expect(code).toBe(2);
    expect(err).toMatch(/--runs must be a positive integer[\s\S]*usage: npm run demo:loop/);
  }, 60_000);
});

describe('the demo over Kafka: its policy file and judge topology', () => {
  it('the policy file (llmo policy apply) and the demo policies are valid documents for sum-qa', () => {
    const file = JSON.parse(readFileSync(`${REPO}topologies/loop-demo.policy.json`, 'utf8')) as { target: string; document: unknown };
    expect(file.target).toBe(sumQa.name);
    for (const doc of [file.document, BANDIT_POLICY, BAD_CANARY_POLICY]) {
      const r = parsePolicyDocument(doc);
      expect(r.ok && checkPolicyAgainst(sumQa, r.value), JSON.stringify(r)).toEqual([]);
    }
  });

  it('the judge topology (llmo evaluate --judge) scores an evaluation request 1 or 0 with a label', async () => {
    const engine = createEngine();
    const request = (text: string) => ({ runId: 'r1', input: { question: 'What is 37 + 45?' }, output: { text, model: 'sim:small' } });
    expect((await engine.run(sumJudge, request('37 + 45 = 82.'))).output).toEqual({ score: 1, label: 'right' });
    expect((await engine.run(sumJudge, request('37 + 45 = 83.'))).output).toEqual({ score: 0, label: 'wrong' });
    await engine.shutdown();
  });
});
