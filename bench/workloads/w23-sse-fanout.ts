/**
 * W23: Server-Sent-Event fan-out of a streaming run's tokens to 1,000 clients. `llmo serve`'s
 * stream route (`GET /v1/runs/:id/stream`: authentication, the stream hub, one serialization
 * per event, backpressure per client) against a raw baseline: a plain `node:http` server that
 * writes the same frames, built once per token, to 1,000 plain responses. The clients run in
 * a process of their own (`w23-clients.ts`), so the CPU measured is the server's.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Observable, type Subscriber } from 'rxjs';
import * as z from 'zod';
import { createEngine, createModels, topology, type Provider, type ProviderEvent } from '../../src/index.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createLocalBackend, createMemoryKeyStore, createServer, streamRoutesWith } from '../../src/server/index.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { cpuUs } from '../lib/cpu.ts';
import { nodeImports } from '../lib/library.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const CLIENTS = 1_000;
/** Tokens pushed between two turns of the event loop (a model's burst). */
const BURST = 20;

/** The client process; resolves its `DONE` line (tokens counted, its CPU ms). */
function startClients(url: string, key: string | undefined): { connected: Promise<void>; done: Promise<{ tokens: number }>; child: ChildProcess } {
  const child = spawn(process.execPath, [...nodeImports(), path.join(here, 'w23-clients.ts'), url, String(CLIENTS), ...(key === undefined ? [] : [key])], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let onConnected!: () => void;
  let onDone!: (r: { tokens: number }) => void;
  let fail!: (e: Error) => void;
  const connected = new Promise<void>((resolve, reject) => { onConnected = resolve; fail = reject; });
  const done = new Promise<{ tokens: number }>((resolve, reject) => { onDone = resolve; child.on('exit', (code) => { if (code !== 0) reject(new Error(`the client process exited with ${code}`)); }); });
  child.on('exit', (code) => { if (code !== 0) fail(new Error(`the client process exited with ${code} before all clients connected`)); });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('CONNECTED\n')) onConnected();
    const m = /DONE (\d+)/.exec(out);
    if (m !== null) onDone({ tokens: Number(m[1]) });
  });
  return { connected, done, child };
}

/** A provider the workload drives: `push` a token to the open call, `finish` it. */
function driven(): { provider: Provider; opened: Promise<void>; push(text: string): void; finish(): void } {
  let sub: Subscriber<ProviderEvent> | undefined;
  let onOpen!: () => void;
  const opened = new Promise<void>((resolve) => { onOpen = resolve; });
  return {
    provider: {
      name: 'drive',
      simulated: true,
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        sub = s;
        onOpen();
      }),
    },
    opened,
    push: (text) => sub!.next({ type: 'text', text }),
    finish() {
      sub!.next({ type: 'usage', usage: { inputTokens: 1, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 } });
      sub!.next({ type: 'finish', reason: 'stop' });
      sub!.complete();
    },
  };
}

const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Round { readonly tokensPerS: number; readonly cpuNsPerDelivered: number }

/** Ours: one run streaming `tokens` tokens through the stream route to the client process. */
async function ours(tokens: number): Promise<Round> {
  const drive = driven();
  const t = topology('w23', { input: z.object({ q: z.string() }) })
    .llm('answer', { model: 'drive:m', prompt: ({ input }) => input.q })
    .build({ output: 'answer' });
  const engine = createEngine({ store: createMemoryStore(), models: createModels({ providers: [drive.provider] }) });
  const backend = createLocalBackend(engine, [t]);
  const keys = createMemoryKeyStore();
  const { secret } = await keys.create({ tenant: 'bench', roles: { '*': 'viewer' } });
  const server = await createServer({ backend, runs: engine.runs, keys }, { port: 0, maxStreams: 2 * CLIENTS, maxStreamsPerKey: 2 * CLIENTS, rateLimit: { max: 1_000_000 } }, [streamRoutesWith()]);
  const url = await server.listen();
  try {
    const started = backend.start({ topology: 'w23', input: { q: 'fan out' }, runId: 'w23', tenant: 'bench' });
    await drive.opened;
    const clients = startClients(`${url}/v1/runs/w23/stream`, secret);
    await clients.connected;
    const c0 = cpuUs();
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) {
      drive.push(` tok${i}`);
      if (i % BURST === BURST - 1) await yieldLoop();
    }
    drive.finish();
    const outcome = await started.done;
    check(outcome.status, 'completed', 'the run');
    const { tokens: got } = await clients.done;
    const ms = performance.now() - t0;
    const cpu = cpuUs() - c0;
    check(got, tokens * CLIENTS, 'tokens delivered');
    return { tokensPerS: got / (ms / 1000), cpuNsPerDelivered: (cpu * 1000) / got };
  } finally {
    await server.close();
    await engine.shutdown({ mode: 'cancel' });
    await backend.close();
  }
}

/** The baseline: the same frames, each built once, written to 1,000 plain `node:http` responses. */
async function raw(tokens: number): Promise<Round> {
  const responses: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': hello\n\n');
    responses.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const clients = startClients(`http://127.0.0.1:${port}/`, undefined);
    await clients.connected;
    const c0 = cpuUs();
    const t0 = performance.now();
    const send = (b: Buffer): void => { for (const r of responses) r.write(b); };
    for (let i = 0; i < tokens; i++) {
      // what the engine's token event looks like, serialized once
      const e = { type: 'node.token', runId: 'w23', topology: 'w23', nodeId: 'answer', index: i, text: ` tok${i}`, ts: Date.now() };
      send(Buffer.from(`id: 1:${i}\nevent: node.token\ndata: ${JSON.stringify(e)}\n\n`));
      if (i % BURST === BURST - 1) await yieldLoop();
    }
    send(Buffer.from('id: 3\nevent: end\ndata: {"status":"completed"}\n\n'));
    for (const r of responses) r.end();
    const { tokens: got } = await clients.done;
    const ms = performance.now() - t0;
    const cpu = cpuUs() - c0;
    check(got, tokens * CLIENTS, 'tokens delivered (raw)');
    return { tokensPerS: got / (ms / 1000), cpuNsPerDelivered: (cpu * 1000) / got };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

export const workload: Workload = {
  id: 'w23',
  title: 'SSE fan-out of a streaming run\'s tokens to 1,000 clients: the stream route vs raw node:http',
  description: 'One run whose llm node streams tokens (a driven provider: bursts of 20 tokens, then a turn of the event loop) watched by 1,000 clients on `GET /v1/runs/:id/stream` (each its own socket, in a separate client process that counts the `node.token` messages each client gets until `event: end`), against a raw baseline: a plain `node:http` server writing the same frames, each built once per token, to 1,000 plain responses (no framework, no authentication, no hub, no backpressure). `tokens_per_s`: tokens delivered (tokens × clients) per second of wall time from the first token to the last client\'s end; `cpu_ns`: the server process\'s CPU per token delivered (the clients\' CPU is not in it). Every client must get every token. 1,000 tokens (quick: 200); each repetition warms both paths up, then measures one round of each, in an order alternating between repetitions; `ratio_*`: ours ÷ raw of the same repetition. llm-orchestrator only.',
  metrics: [
    { name: 'tokens_per_s', unit: 'tokens/s', better: 'higher', ratio: false },
    { name: 'cpu_ns', unit: 'CPU ns/token delivered', better: 'lower', ratio: false },
    { name: 'raw_tokens_per_s', unit: 'tokens/s', better: 'higher', ratio: false },
    { name: 'raw_cpu_ns', unit: 'CPU ns/token delivered', better: 'lower', ratio: false },
    { name: 'ratio_tokens_per_s', unit: '×', better: 'higher', ratio: false },
    { name: 'ratio_cpu', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 120_000 : 240_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w23 measures llm-orchestrator's stream route, not ${ctx.system.id}`);
    const tokens = ctx.mode === 'quick' ? 200 : 1_000;
    // warm up both paths once
    await ours(Math.min(tokens, 100));
    await raw(Math.min(tokens, 100));
    // one round of each per repetition (the harness repeats), in an order that alternates between repetitions
    const o: Round[] = [];
    const r: Round[] = [];
    if (ctx.rep % 2 === 0) { o.push(await ours(tokens)); r.push(await raw(tokens)); } else { r.push(await raw(tokens)); o.push(await ours(tokens)); }
    ctx.log(`ours ${o[0]!.tokensPerS.toFixed(0)} tokens/s, ${o[0]!.cpuNsPerDelivered.toFixed(0)} ns CPU/token; raw ${r[0]!.tokensPerS.toFixed(0)} tokens/s, ${r[0]!.cpuNsPerDelivered.toFixed(0)} ns CPU/token`);
    return {
      tokens_per_s: median(o.map((x) => x.tokensPerS)),
      cpu_ns: median(o.map((x) => x.cpuNsPerDelivered)),
      raw_tokens_per_s: median(r.map((x) => x.tokensPerS)),
      raw_cpu_ns: median(r.map((x) => x.cpuNsPerDelivered)),
      ratio_tokens_per_s: median(o.map((x, i) => x.tokensPerS / r[i]!.tokensPerS)),
      ratio_cpu: median(o.map((x, i) => x.cpuNsPerDelivered / r[i]!.cpuNsPerDelivered)),
    };
  },
};
