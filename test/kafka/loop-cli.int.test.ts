// The loop over Kafka with the CLI, in process: `llmo policy apply` publishes a bandit policy, `llmo worker --loop`
// boots with it, `llmo evaluate` judges the worker's evaluation requests with a judge topology, and its feedback
// moves the worker's traffic to the arm it rewards; `llmo policy show` prints the current version.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { evaluateCommand } from '../../src/cli/commands/evaluate.ts';
import { workerCommand } from '../../src/cli/commands/worker.ts';
import { EXIT, main } from '../../src/cli/main.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import type { EvaluationRequestMessage } from '../../src/transports/messages.ts';
import { createClient } from '../../src/worker/client.ts';
import { deleteTopics, rawKafka, rawRead, uniquePrefix, waitFor } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: { LOG_LEVEL: 'warn' } }, out: () => out, err: () => err };
}

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(path.join(tmpdir(), 'llmo-loop-cli-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!brokers)('llmo policy, worker --loop and evaluate on a real broker', () => {
  const kafka = rawKafka(brokers ?? '', 'loop-cli-int');
  const prefix = uniquePrefix('it-loop-cli');
  afterAll(async () => deleteTopics(kafka, prefix));

  it('a bandit policy applied with the CLI steers a CLI worker once a CLI evaluator judges its runs', async () => {
    const flags = ['--brokers', brokers!, '--prefix', prefix];
    const file = path.join(tmp, 'bandit.yaml');
    writeFileSync(file, [
      'target: qa', 'reason: learn the better model', 'document:', '  bandits:', '    answer:', '      metric: correct', '      arms:',
      '        cheap: { model: sim:cheap }', '        good: { model: sim:good }',
    ].join('\n'));
    const applied = capture();
    expect(await main(['policy', 'apply', file, ...flags, '--topology', 'test/fixtures/qa-loop.ts'], applied.io), applied.err()).toBe(EXIT.ok);
    expect(JSON.parse(applied.out())).toMatchObject({ target: 'qa', version: 1, reason: 'learn the better model' });

    const stop = new AbortController();
    const w = capture();
    const worker = workerCommand('test/fixtures/qa-loop.ts', { brokers: brokers!, prefix, maxInFlight: 4, exitOnDownMs: 0, tokens: false, loop: true, seed: 7 }, w.io, stop.signal);
    const transport = createKafkaTransport({ brokers: brokers!.split(','), prefix, clientId: 'loop-cli-client' });
    const client = createClient(transport);
    try {
      await waitFor(() => w.err().includes("serving 'qa'"), 'the worker serving', 60_000);
      expect(w.err()).toContain('feedback loop, policy v1');
      const e = capture();
      const evaluator = evaluateCommand({ brokers: brokers!, prefix, judge: 'test/fixtures/judge-model.ts', metric: 'correct', count: 30 }, e.io);
      for (let i = 0; i < 30; i++) expect((await client.submit('qa', { q: `q${i}` })).status).toBe('completed');
      expect(await evaluator, e.err()).toBe(EXIT.ok);
      expect(e.out().trim().split('\n').map((l) => JSON.parse(l) as { source: string }).every((f) => f.source === 'llmo-evaluate:model-judge')).toBe(true);
      const later = [];
      for (let i = 0; i < 10; i++) later.push((await client.submit('qa', { q: `later ${i}` })).runId);
      const type = avro.Type.forSchema(JSON.parse(readFileSync(new URL('../../src/transports/schemas/evaluation-request.v1.avsc', import.meta.url), 'utf8')) as avro.Schema);
      const requests = (await rawRead(kafka, [transport.topics.evaluation], 40, 60_000)).map((r) => type.fromBuffer(r.value!) as EvaluationRequestMessage);
      const models = later.map((id) => requests.find((r) => r.runId === id)?.models['answer']);
      expect(models.filter((m) => m === 'sim:good').length, models.join(',')).toBeGreaterThanOrEqual(8);
      expect(requests.every((r) => r.policyVersion === 1)).toBe(true);
    } finally {
      stop.abort();
      expect(await worker, w.err()).toBe(EXIT.ok);
      await client.close();
      await transport.close();
    }
    const shown = capture();
    expect(await main(['policy', 'show', 'qa', ...flags], shown.io)).toBe(EXIT.ok);
    expect((JSON.parse(shown.out()) as { version: number; document: { bandits?: unknown } }[]).map((p) => [p.version, p.document.bandits !== undefined])).toEqual([[1, true]]);
  });
});
