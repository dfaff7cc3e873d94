/**
 * Test harness of the server's routes: an engine on a memory store serving a few small
 * topologies, a server on it, keys of two tenants, and `call` to send a request with a key.
 * Used by the route and contract tests only.
 * @module
 */
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import type { AnyTopology } from '../../src/definition/types.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { Roles } from '../../src/server/access.ts';
import { createLocalBackend } from '../../src/server/backend.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import type { ServerOptions } from '../../src/server/options.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';

/**
 * A map node that waits until the test lets it go: `release()` ends it, `started` resolves when it runs.
 *
 * @example
 * ```ts
 * const gate = createGate();
 * await gate.started; gate.release();
 * ```
 */
export interface Gate {
  /** Resolves when the node first waits. */
  readonly started: Promise<void>;
  /** Lets every waiting (and later) node go. */
  release(): void;
  /** What the node awaits. */
  wait(): Promise<void>;
}

/**
 * A new {@link Gate}.
 *
 * @example
 * ```ts
 * const gate = createGate();
 * ```
 */
export function createGate(): Gate {
  let release!: () => void;
  let started!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  const s = new Promise<void>((r) => { started = r; });
  return { started: s, release, wait: () => { started(); return released; } };
}

/**
 * The topologies the harness serves: `echo` (upper-cases `text`), `slow` (waits on a gate
 * until released or cancelled), `approval` (parks on a `wait` node for signal `approval`), `secret` (echo under another name), `chat` (one `sim:fast` llm node).
 *
 * @example
 * ```ts
 * const ts = harnessTopologies(createGate());
 * ```
 */
export function harnessTopologies(gate: Gate): AnyTopology[] {
  const echo = topology('echo', { input: z.object({ text: z.string() }), description: 'upper-cases text' })
    .map('up', { run: ({ input }) => input.text.toUpperCase() })
    .map('out', { after: ['up'], run: ({ deps }) => `${deps.up}!` })
    .build({ output: 'out' });
  const slow = topology('slow', { input: z.object({ n: z.number() }) })
    .map('hold', { run: async ({ input, signal }) => {
      await Promise.race([gate.wait(), new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))]);
      return input.n;
    } })
    .build({ output: 'hold' });
  const approval = topology('approval', { input: z.object({ topic: z.string() }) })
    .map('draft', { run: ({ input }) => `Draft about ${input.topic}` })
    .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ approved: z.boolean() }) })
    .map('publish', { after: ['draft', 'approve'], run: ({ deps }) => (deps.approve.approved ? `published: ${deps.draft}` : 'rejected') })
    .build({ output: 'publish' });
  const secret = topology('secret', { input: z.object({ text: z.string() }) })
    .map('out', { run: ({ input }) => input.text })
    .build({ output: 'out' });
  const chat = topology('chat', { input: z.object({ q: z.string() }) })
    .llm('answer', { model: 'sim:fast', prompt: ({ input }) => input.q })
    .build({ output: 'answer' });
  return [echo, slow, approval, secret, chat];
}

/**
 * A server on a fresh engine and memory store, with keys: `acme` admin/operator/viewer,
 * `globex` operator, `narrow` (acme, only `echo`).
 *
 * @example
 * ```ts
 * const h = await createHarness();
 * const r = await h.call('operator', 'POST', '/v1/runs', { topology: 'echo', input: { text: 'hi' }, wait: true });
 * ```
 */
export interface Harness {
  readonly server: LlmoServer;
  readonly engine: Engine;
  readonly gate: Gate;
  readonly secrets: Readonly<Record<KeyName, string>>;
  call(key: KeyName | undefined, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * The harness's keys: `admin`, `operator`, `viewer` of tenant `acme` on every topology,
 * `globex` (operator of tenant `globex`), `narrow` (acme, operator of `echo` only).
 *
 * @example
 * ```ts
 * const k: KeyName = 'viewer';
 * ```
 */
export type KeyName = 'admin' | 'operator' | 'viewer' | 'globex' | 'narrow';

const KEYS: Readonly<Record<KeyName, { tenant: string; roles: Roles }>> = {
  admin: { tenant: 'acme', roles: { '*': 'admin' } },
  operator: { tenant: 'acme', roles: { '*': 'operator' } },
  viewer: { tenant: 'acme', roles: { '*': 'viewer' } },
  globex: { tenant: 'globex', roles: { '*': 'operator' } },
  narrow: { tenant: 'acme', roles: { echo: 'operator' } },
};

/**
 * Builds a {@link Harness}.
 *
 * @example
 * ```ts
 * const h = await createHarness({ waitTimeoutMs: 1000 });
 * ```
 */
export async function createHarness(options: ServerOptions = {}): Promise<Harness> {
  const gate = createGate();
  const topologies = harnessTopologies(gate);
  const engine = createEngine({ store: createMemoryStore(), topologies });
  const keys = createMemoryKeyStore();
  const secrets = {} as Record<KeyName, string>;
  for (const [name, k] of Object.entries(KEYS) as [KeyName, { tenant: string; roles: Roles }][]) {
    secrets[name] = (await keys.create({ tenant: k.tenant, roles: k.roles, name })).secret;
  }
  const backend = createLocalBackend(engine, topologies);
  const server = await createServer({ backend, runs: engine.runs, keys }, { port: 0, ...options });
  return {
    server, engine, gate, secrets,
    async call(key, method, url, body) {
      const r = await server.app.inject({
        method, url,
        headers: key === undefined ? {} : { authorization: `Bearer ${secrets[key]}` },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
      const text = r.body;
      return { status: r.statusCode, body: text.length > 0 && String(r.headers['content-type']).includes('json') ? JSON.parse(text) as unknown : text, headers: r.headers };
    },
    async close() {
      gate.release();
      await server.close();
      await backend.close();
      await engine.shutdown({ mode: 'cancel' });
    },
  };
}
