/**
 * The worker's health server: /healthz, /readyz, and /metrics as the Prometheus scrape of the CLI's
 * telemetry (a MeterProvider with a Prometheus reader, no SDK, no OTEL_* variable).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import { createHealthBoard } from '../transports/health.ts';
import { startHealthServer, type HealthServer } from './health-server.ts';
import { startCliTelemetry, type CliTelemetry } from './otel.ts';

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .map('retrieve', { run: ({ input }) => `docs for ${input.q}` })
  .llm('answer', { after: ['retrieve'], model: 'sim:fast', prompt: ({ input }) => input.q, maxTokens: 16 })
  .build({ output: 'answer' });

let server: HealthServer | undefined;
let otel: CliTelemetry | undefined;
afterEach(async () => {
  await server?.close();
  await otel?.shutdown();
  server = undefined;
  otel = undefined;
});

const get = async (port: number, path: string): Promise<{ status: number; type: string | null; body: string }> => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
};

describe('health server', () => {
  it('/healthz and /readyz answer from the health; /metrics is 404 without a metrics handler', async () => {
    const board = createHealthBoard();
    server = await startHealthServer({ port: 0, host: '127.0.0.1', health: board, ready: () => true });
    expect((await get(server.port, '/healthz')).status).toBe(200);
    expect((await get(server.port, '/readyz')).status).toBe(200);
    board.set('kafka', 'down', 'broker gone');
    expect((await get(server.port, '/healthz')).status).toBe(503);
    expect((await get(server.port, '/metrics')).status).toBe(404);
  });

  it('GET /metrics: the Prometheus text of the runs an engine made through the CLI telemetry', async () => {
    const problems: string[] = [];
    otel = await startCliTelemetry({ command: 'worker', env: {}, report: (level, m) => problems.push(`${level}: ${m}`), prometheus: true });
    expect(otel.exporting).toBe(false);
    server = await startHealthServer({ port: 0, host: '127.0.0.1', health: createHealthBoard(), ready: () => true, metrics: otel.metricsHandler });
    const engine = createEngine();
    const sub = otel.telemetry.attach(engine);
    const r = await engine.run(qa, { q: 'why rxjs?' });
    expect(r.status).toBe('completed');
    const m = await get(server.port, '/metrics');
    sub.unsubscribe();
    await engine.shutdown();
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    const lines = m.body.split('\n');
    const tokenUsage = lines.filter((l) => l.startsWith('gen_ai_client_token_usage'));
    expect(tokenUsage.some((l) => /gen_ai_token_type="input"/.test(l))).toBe(true);
    expect(tokenUsage.some((l) => /gen_ai_token_type="output"/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('gen_ai_client_operation_duration'))).toBe(true);
    expect(lines.some((l) => /^llmo_runs\w*\{[^}]*\} 1$/.test(l))).toBe(true);
    expect(m.body).toContain('service_name="llmo-worker"');
    expect(problems).toEqual([]);
  });

  it('GET /metrics with resource metrics: the process\'s CPU, memory, network, event loop and heap', async () => {
    const problems: string[] = [];
    otel = await startCliTelemetry({ command: 'worker', env: {}, report: (level, m) => problems.push(`${level}: ${m}`), prometheus: true, resourceMetrics: true });
    server = await startHealthServer({ port: 0, host: '127.0.0.1', health: createHealthBoard(), ready: () => true, metrics: otel.metricsHandler });
    const scrape = async (): Promise<Set<string | undefined>> => {
      const m = await get(server!.port, '/metrics');
      expect(m.status).toBe(200);
      return new Set(m.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[a-z_0-9]+/.exec(l)?.[0]));
    };
    // the event-loop delay is reported once its monitor has sampled (every 10 ms)
    let names = await scrape();
    while (!names.has('nodejs_eventloop_delay_max')) {
      await new Promise((r) => setTimeout(r, 20));
      names = await scrape();
    }
    for (const name of [
      'process_cpu_time_total', 'process_memory_usage', 'system_memory_usage', 'system_cpu_utilization',
      'system_network_io_total', 'nodejs_eventloop_delay_max', 'nodejs_eventloop_utilization', 'v8js_memory_heap_used',
    ]) expect(names, `${name} among ${[...names].join(', ')}`).toContain(name);
    expect(problems).toEqual([]);
  });
});
