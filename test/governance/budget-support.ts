/**
 * Shared pieces of the budget guard tests: a priced recording provider (optionally gated, so
 * runs stay in flight), an engine around a budget guard, and the probe of a call's estimate.
 * @module
 */
import { Observable } from 'rxjs';
import {
  createEngine, createModels, topology,
  type CallEstimate, type CompletionRequest, type Engine, type Guard, type Provider, type ProviderEvent, type RunStore,
} from '../../src/index.ts';

/** Price of `a:big` and `b:small` (USD per million tokens): 1,000 and 10. */
export const PRICES = { 'a:big': { input: 1000, output: 1000 }, 'b:small': { input: 10, output: 10 } };

/**
 * A provider that records requests and streams `words` (one token each), then reports usage of
 * 1 input token and one output token per word; `gate` (when given) holds each call before its first word;
 * `async` streams one word per macrotask (so a guard's asynchronous extension can land mid-stream).
 */
export function priced(name: string, words: readonly string[], opts: { gate?: () => Promise<void>; async?: boolean; onRequest?: (req: CompletionRequest) => void } = {}): Provider & { readonly requests: CompletionRequest[] } {
  const requests: CompletionRequest[] = [];
  return {
    name,
    requests,
    stream: (req) => new Observable<ProviderEvent>((s) => {
      requests.push(req);
      opts.onRequest?.(req);
      let stopped = false;
      void (async () => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        if (opts.gate !== undefined) await opts.gate();
        for (const w of words) {
          if (stopped || s.closed) return;
          s.next({ type: 'text', text: w });
          if (opts.async === true) await new Promise((r) => setImmediate(r));
        }
        if (stopped || s.closed) return;
        s.next({ type: 'usage', usage: { inputTokens: 1, outputTokens: words.length, cachedTokens: 0, reasoningTokens: 0 } });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      })();
      return () => {
        stopped = true;
      };
    }),
  };
}

/** One llm node on `a:big` writing at most `maxTokens`. */
export const oneCall = (maxTokens = 10) => topology('budgeted')
  .llm('answer', { model: 'a:big', prompt: ({ input }) => String((input as { q: string }).q), maxTokens })
  .build({ output: 'answer' });

/** An engine calling `a` (as `a:big`) and `b` (as `b:small`) under `guard`. */
export function engineWith(guard: Guard | undefined, a: Provider, b: Provider = priced('b', [' cheap']), store?: RunStore, maxInFlight?: number): Engine {
  const models = createModels({ providers: [a, b], prices: PRICES });
  return createEngine({ models, ...(guard === undefined ? {} : { guard }), ...(store === undefined ? {} : { store }), ...(maxInFlight === undefined ? {} : { maxInFlight }) });
}

/** The estimate the engine gives the guard for one call of `oneCall(maxTokens)` with input `q`. */
export async function probeEstimate(q = 'hi', maxTokens = 10): Promise<CallEstimate> {
  let est: CallEstimate | undefined;
  const engine = engineWith({ call: (c) => ((est = c.estimate), { action: 'allow' }) }, priced('a', [' x']));
  await engine.run(oneCall(maxTokens), { q });
  await engine.shutdown();
  return est!;
}

/** Actual cost of a call streaming `words` words (1 input token, one token per word) on `a:big`. */
export const actualCost = (words: number): number => ((1 + words) * PRICES['a:big'].input) / 1e6;
