// The CLI's metrics over OTLP, to a local HTTP server that decodes what the SDK's exporter sends
// (OTLP/HTTP JSON): a long-lived command's export holds the engine's GenAI and run metrics and its
// process's resource use (CPU, memory, network, event loop, heap), flushed on shutdown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { createEngine } from '../runtime/engine.ts';
import { startCliTelemetry } from './otel.ts';

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:fast', prompt: ({ input }) => input.q, maxTokens: 8 })
  .build({ output: 'answer' });

/** An OTLP/HTTP receiver: the metric names of every export it got. */
async function receiver(): Promise<{ server: Server; url: string; names: Set<string> }> {
  const names = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      if (req.url === '/v1/metrics') {
        const doc = JSON.parse(body) as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] };
        for (const rm of doc.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) names.add(m.name);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, names };
}

let server: Server | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

describe('the CLI\'s metrics over OTLP', () => {
  it('with resource metrics: the engine\'s metrics and the process\'s CPU, memory, network, event loop and heap, flushed on shutdown', async () => {
    const rx = await receiver();
    server = rx.server;
    // the SDK reads the OTEL_* variables from process.env
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_METRIC_EXPORT_INTERVAL: '3600000',
    };
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const problems: string[] = [];
    const otel = await startCliTelemetry({ command: 'worker', env, report: (level, m) => problems.push(`${level}: ${m}`), resourceMetrics: true });
    expect(otel.exporting).toBe(true);
    const engine = createEngine();
    const sub = otel.telemetry.attach(engine);
    expect((await engine.run(qa, { q: 'why?' })).status).toBe('completed');
    sub.unsubscribe();
    await engine.shutdown();
    await otel.shutdown();
    for (const name of [
      'gen_ai.client.token.usage', 'gen_ai.client.operation.duration', 'llmo.run.duration',
      'process.cpu.time', 'process.memory.usage', 'system.memory.usage', 'system.network.io', 'nodejs.eventloop.utilization', 'v8js.memory.heap.used',
    ]) expect(rx.names, `${name} among ${[...rx.names].join(', ')}`).toContain(name);
    expect(problems).toEqual([]);
  });
});
