// `llmo evaluate` across a broker outage (private broker): down for 30 s, then back; an evaluation
// request sent afterwards is judged and its feedback published. The evaluator consumed on its
// fail-fast probe transport (2 retries, 3 s connects) before: after the same outage it stayed idle
// for good, with nothing said, and exited 0 when stopped.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { evaluateCommand } from '../../src/cli/commands/evaluate.ts';
import { EXIT } from '../../src/cli/exit.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import type { EvaluationRequestMessage } from '../../src/transports/messages.ts';
import { startPrivateBroker, type PrivateBroker } from './private-broker.ts';
import { sleep, uniquePrefix, waitFor } from './support.ts';

const brokers: string | undefined = inject('kafkaBrokers');

const request = (runId: string): EvaluationRequestMessage => ({
  evaluationId: runId, runId, nodeId: null, topology: 'qa', version: 'v1', variant: null, policyVersion: 2, promptVersion: null,
  models: { answer: 'sim:good' }, arms: {}, input: '{"q":"?"}', output: JSON.stringify('good'), status: 'completed', latencyMs: 3, inputTokens: 1, outputTokens: 2, costUsd: 0, tenant: null, user: null, ts: 1,
});

describe.skipIf(!brokers)('llmo evaluate across a broker outage (private broker)', () => {
  let broker: PrivateBroker | undefined;
  beforeAll(async () => {
    broker = await startPrivateBroker({ name: 'evaluate-outage' });
  }, 240_000);
  afterAll(async () => {
    await broker?.dispose();
  }, 120_000);

  it('judges a request sent after the broker was down for 30 s and came back; its health says down meanwhile', async () => {
    const b = broker!;
    const prefix = uniquePrefix('it-evout');
    let out = '';
    let err = '';
    const io = {
      out: new Writable({ write(c: Buffer, _e, cb) { out += c.toString(); cb(); } }),
      err: new Writable({ write(c: Buffer, _e, cb) { err += c.toString(); cb(); } }),
      color: false, env: { LOG_LEVEL: 'warn' },
    };
    const stop = new AbortController();
    const ran = evaluateCommand({ brokers: b.brokers, prefix, judge: 'test/fixtures/judge.ts', metric: 'correct', healthPort: 0, exitOnDownMs: 0 }, io, stop.signal);
    try {
      await waitFor(() => err.includes('Ctrl-C to stop'), 'the evaluator serving', 60_000, 50);
      const port = Number(/health on :(\d+)/.exec(err)![1]);
      const health = async (): Promise<string> => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string }).status;
      await waitFor(async () => (await health()) === 'up', 'the evaluator up', 30_000, 100);

      await b.stop();
      await waitFor(async () => (await health()) === 'down', 'the evaluator down while the broker is', 30_000, 100);
      await sleep(30_000);
      await b.start();

      const t = createKafkaTransport({ brokers: [b.brokers], prefix });
      try {
        await t.send('evaluation', [{ key: 'after', value: request('after') }]);
      } finally {
        await t.close();
      }
      await waitFor(() => out.includes('"runId":"after"'), 'feedback on the request sent after the outage', 90_000, 100);
      expect(await health()).toBe('up');
    } finally {
      stop.abort();
    }
    expect(await ran).toBe(EXIT.ok);
    expect(err).toContain('judged 1,');
  }, 300_000);
});
