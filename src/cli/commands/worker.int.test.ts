// `llmo worker` observability on the shared broker: its health port serves the Prometheus scrape of
// the runs it served, its JSON log lines carry the trace id of the request being handled (from the
// submitter's TRACEPARENT, through the request's traceparent header), and per-component levels apply.
// The SDK is started with no exporter (OTEL_TRACES_EXPORTER=none): only its context manager matters here.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { uniquePrefix, waitFor } from '../../../test/kafka/support.ts';
import { EXIT } from '../exit.ts';
import { submitCommand } from './submit.ts';
import { workerCommand } from './worker.ts';

const brokers = inject('kafkaBrokers');

function capture(env: NodeJS.ProcessEnv): { io: { out: Writable; err: Writable; color: boolean; env: NodeJS.ProcessEnv }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env }, out: () => out, err: () => err };
}

const json = (text: string): Record<string, unknown>[] => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

afterEach(() => { vi.unstubAllEnvs(); });

describe.skipIf(!brokers)('llmo worker: metrics, correlated logs', () => {
  it('GET /metrics after a submitted run; log lines of the run carry its trace id; LOG_LEVELS silences a component', async () => {
    const otel = { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };
    for (const [k, v] of Object.entries(otel)) vi.stubEnv(k, v); // the SDK reads process.env
    const prefix = uniquePrefix('cli-otel');
    const env = { ...process.env, ...otel, LOG_LEVEL: 'debug', LOG_LEVELS: 'kafka=warn' };
    const w = capture(env);
    const stop = new AbortController();
    const done = workerCommand('topologies/rag.ts', {
      brokers, prefix, partitions: 1, group: `${prefix}-g`, maxInFlight: 2, healthPort: 0, exitOnDownMs: 0, workerId: 'w-otel', offsetReset: 'earliest',
    }, w.io, stop.signal);
    try {
      await waitFor(() => /health on :\d+/.test(w.err()) || w.err().includes('llmo:'), 'the worker to serve', 60_000);
      if (!/health on :\d+/.test(w.err())) throw new Error(`the worker did not start: ${w.err()}`);
      const port = Number(/health on :(\d+)/.exec(w.err())![1]);
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const s = capture({ ...env, TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01` });
      expect(await submitCommand('rag', { brokers, prefix, partitions: 1, count: 1, timeout: 60_000, input: '{"question":"why?"}' }, s.io)).toBe(EXIT.ok);
      // a run that fails logs its end (engine, debug) while the request is handled
      expect(await submitCommand('rag', { brokers, prefix, partitions: 1, count: 1, timeout: 60_000, input: '{"question":""}' }, s.io)).toBe(EXIT.runFailed);
      const m = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(m.status).toBe(200);
      const body = await m.text();
      expect(body).toMatch(/^llmo_runs_ended_total\{[^}]*llmo_status="completed"[^}]*\} 1$/m);
      expect(body).toMatch(/^gen_ai_client_token_usage_count\{[^}]*gen_ai_token_type="output"/m);
      expect(body).toContain('service_name="llmo-worker"');
      const lines = json(w.err());
      expect(lines.some((l) => l['trace_id'] === traceId && l['component'] === 'engine')).toBe(true);
      expect(lines.filter((l) => typeof l['component'] === 'string' && (l['component'] as string).startsWith('kafka') && (l['level'] as number) < 40)).toEqual([]);
    } finally {
      stop.abort();
      expect(await done).toBe(EXIT.ok);
    }
  });
});
