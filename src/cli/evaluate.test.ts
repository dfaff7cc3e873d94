// `llmo evaluate` on the memory transport (the Kafka path with an injected transport): a judge topology turns
// evaluation requests into feedback messages; runs that did not complete are skipped; a judge output that is not
// a verdict dead-letters the request with the reason naming the field.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { evaluateCommand, verdictOf } from './commands/evaluate.ts';
import { EXIT } from './exit.ts';
import type { KafkaTransport } from '../transports/kafka/index.ts';
import { createMemoryTransport } from '../transports/index.ts';
import type { EvaluationRequestMessage, FeedbackMessage } from '../transports/messages.ts';
import { createHealthBoard } from '../transports/health.ts';

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const request = (runId: string, output: unknown, status: EvaluationRequestMessage['status'] = 'completed'): EvaluationRequestMessage => ({
  evaluationId: runId, runId, nodeId: null, topology: 'qa', version: 'v1', variant: null, policyVersion: 2, promptVersion: null,
  models: { answer: 'sim:good' }, arms: {}, input: '{"q":"?"}', output: JSON.stringify(output), status, latencyMs: 3, inputTokens: 1, outputTokens: 2, costUsd: 0, tenant: null, user: null, ts: 1,
});

describe('llmo evaluate', () => {
  it('judges completed runs into feedback (score, label, comment, model, a stable feedback id), skips the others, dead-letters a non-verdict', async () => {
    const transport: KafkaTransport = Object.assign(createMemoryTransport({ prefix: 'ev' }), { ensureTopics: async () => undefined, close: async () => undefined });
    await transport.send('evaluation', [
      { key: 'r1', value: request('r1', 'good') },
      { key: 'r2', value: request('r2', 'meh') },
      { key: 'r3', value: request('r3', null, 'failed') },
      { key: 'r4', value: request('r4', 'broken') },
      { key: 'r5', value: request('r5', 'good') },
    ]);
    const c = capture();
    const code = await evaluateCommand({ brokers: '127.0.0.1:9092', prefix: 'ev', judge: 'test/fixtures/judge.ts', metric: 'correct', count: 3, maxInFlight: 1 }, c.io, undefined, () => ({ ok: true, transport }));
    expect(code, c.err()).toBe(EXIT.ok);
    const feedback: FeedbackMessage[] = [];
    transport.read('feedback', { fromBeginning: true }).subscribe((m) => feedback.push(m.value)).unsubscribe();
    expect(feedback.map((f) => [f.runId, f.score, f.label])).toEqual([['r1', 1, 'pass'], ['r2', 0, null], ['r5', 1, 'pass']]);
    expect(feedback[0]).toMatchObject({ feedbackId: 'r1:correct:judge', topology: 'qa', metric: 'correct', model: 'sim:good', source: 'llmo-evaluate:judge', comment: 'by sim:good', nodeId: null });
    expect(c.out().trim().split('\n')).toHaveLength(3);
    const dead: string[] = [];
    transport.read('deadLetter', { fromBeginning: true }).subscribe((m) => dead.push(m.value.reason)).unsubscribe();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toContain("judge 'judge' on r4: the judge's output is not a verdict");
    expect(c.err()).toContain('judged 3, skipped 1 (runs that did not complete), dead-lettered 1');
  });

  it('verdictOf: a score in [0,1] or { score, label?, comment? }; otherwise the reason names the field', () => {
    expect(verdictOf(0.25)).toEqual({ ok: true, verdict: { score: 0.25, label: null, comment: null } });
    expect(verdictOf({ score: 1, label: 'pass' })).toEqual({ ok: true, verdict: { score: 1, label: 'pass', comment: null } });
    const big = verdictOf({ score: 2 });
    expect(!big.ok && big.reason).toMatch(/output\.score: /);
    const bad = verdictOf('yes');
    expect(!bad.ok && bad.reason).toMatch(/output: expected a score in \[0, 1\] or \{ score, label\?, comment\? \}/);
  });

  it('a long-lived process: JSON logs, /healthz and /readyz on --health-port, and exit 1 once its consumer stays down', async () => {
    const board = createHealthBoard();
    const transport: KafkaTransport = Object.assign(createMemoryTransport({ prefix: 'ev' }), { ensureTopics: async () => undefined, close: async () => undefined, health: board });
    const c = capture();
    const ran = evaluateCommand({ brokers: '127.0.0.1:9092', prefix: 'ev', judge: 'test/fixtures/judge.ts', healthPort: 0, exitOnDownMs: 20 }, c.io, undefined, () => ({ ok: true, transport }));
    await until(() => /health on :(\d+)/.test(c.err()));
    const port = Number(/health on :(\d+)/.exec(c.err())![1]);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // the consumer crashed and restarting it was given up
    board.set('consumer:evaluation', 'down', 'restarting the consumer was given up');
    expect(await ran).toBe(EXIT.runFailed);
    expect(c.err()).toContain('llmo: health down for more than 20 ms: consumer:evaluation (restarting the consumer was given up); stopping');
    const logs = c.err().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'evaluator down for good: stopping' }));
  });

  it('bad LOG_LEVELS is exit 2 naming the variable', async () => {
    const c = capture();
    const code = await evaluateCommand({ brokers: '127.0.0.1:9092', judge: 'test/fixtures/judge.ts' }, { ...c.io, env: { LOG_LEVELS: 'kafka=loud' } }, undefined, () => { throw new Error('not reached'); });
    expect(code).toBe(EXIT.invalid);
    expect(c.err()).toContain('LOG_LEVELS');
  });

  it('a judge file that cannot be loaded is exit 2 before any broker is reached', async () => {
    const c = capture();
    let opened = false;
    const code = await evaluateCommand({ brokers: '127.0.0.1:9092', judge: 'test/fixtures/nope.ts' }, c.io, undefined, () => { opened = true; throw new Error('not reached'); });
    expect(code).toBe(EXIT.invalid);
    expect(opened).toBe(false);
    expect(c.err()).toContain('no such file: test/fixtures/nope.ts');
  });
});
