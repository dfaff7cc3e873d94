/**
 * What the live view's browser test serves: a topology with an llm node whose tokens the test
 * releases one by one (a gated provider: no timers, no sleeps), an engine with a store, a key,
 * and the server.
 * @module
 */
import * as z from 'zod';
import { ReplaySubject, type Observable } from 'rxjs';
import { topology } from '../../src/builder/builder.ts';
import { createModels } from '../../src/providers/models.ts';
import type { Provider, ProviderEvent } from '../../src/providers/types.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createLocalBackend } from '../../src/server/backend.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';
import type { ServerOptions } from '../../src/server/options.ts';

/** One model call of the gated provider: the test sends its tokens and ends it. */
export interface GatedCall {
  emit(text: string): void;
  finish(usage?: { inputTokens: number; outputTokens: number }): void;
}

/**
 * A provider whose n-th call streams what the test sends through `call(n)`, whenever it sends it
 * (before or after the engine subscribes: a replay subject keeps it).
 */
export function gatedProvider(name: string): { provider: Provider; call(n: number): GatedCall; readonly calls: number } {
  const subjects: ReplaySubject<ProviderEvent>[] = [];
  let calls = 0;
  const subject = (n: number): ReplaySubject<ProviderEvent> => {
    while (subjects.length <= n) {
      const s = new ReplaySubject<ProviderEvent>();
      s.next({ type: 'response', status: 200, rateLimit: {} });
      subjects.push(s);
    }
    return subjects[n]!;
  };
  return {
    provider: { name, stream: (): Observable<ProviderEvent> => subject(calls++).asObservable() },
    call: (n) => ({
      emit: (text) => subject(n).next({ type: 'text', text }),
      finish(usage = { inputTokens: 12, outputTokens: 5 }) {
        const s = subject(n);
        s.next({ type: 'usage', usage: { ...usage, cachedTokens: 0, reasoningTokens: 0 } });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      },
    }),
    get calls() { return calls; },
  };
}

/** plan → draft (llm, streams) → check (route: ok → polish, retry → redo, which is skipped). */
export const brief = topology('brief', {
  input: z.object({ question: z.string().min(3) }),
  description: 'Plan, draft with a model, check, polish',
})
  .map('plan', { run: ({ input }) => `Answer briefly: ${input.question}` })
  .llm('draft', { after: ['plan'], model: 'gate:writer', prompt: ({ deps }) => deps.plan })
  .route('check', { after: ['draft'], branches: { ok: 'polish', retry: 'redo' }, select: () => 'ok' as 'ok' | 'retry' })
  .map('polish', { after: ['draft'], run: ({ deps }) => String(deps.draft).trim() })
  .map('redo', { run: () => 'again' })
  .build({ output: 'polish' });

/** A served engine: the server's URL, a key of tenant `acme`, the gate, and `close`. */
export interface Served {
  readonly url: string;
  readonly key: string;
  readonly gate: ReturnType<typeof gatedProvider>;
  readonly engine: Engine;
  close(): Promise<void>;
}

/** Serves `brief` on an engine with a memory store: the server as `llmo serve` builds it (its default routes), with `options`. */
export async function serve(options: ServerOptions = {}): Promise<Served> {
  const gate = gatedProvider('gate');
  const models = createModels({ providers: [gate.provider], prices: { 'gate:writer': { input: 3, output: 15 } } });
  const engine = createEngine({ store: createMemoryStore(), models });
  const keys = createMemoryKeyStore();
  const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'operator' }, name: 'browser-test' });
  const local = createLocalBackend(engine, [brief]);
  const server: LlmoServer = await createServer({ backend: local, runs: engine.runs, keys }, { port: 0, host: '127.0.0.1', ...options });
  const url = await server.listen();
  return {
    url, key: secret, gate, engine,
    async close() {
      await server.close();
      await local.close();
      await engine.shutdown({ mode: 'cancel' });
    },
  };
}
