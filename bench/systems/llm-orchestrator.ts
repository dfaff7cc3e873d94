/**
 * llm-orchestrator: the DAGs as topologies, run through one engine.
 * @module
 */
import {
  createEngine, createModels, topology, type AnyTopology, type Engine, type NodeContext, type Provider,
} from '../../src/index.ts';
import { CallHooks, guardedCall } from '../../src/resilience/guard.ts';
import { Resilience } from '../../src/resilience/resilience.ts';
import { kafkaClient, kafkaServe, kafkaTokens, kafkaWorker } from './llm-orchestrator-kafka.ts';
import { chainTopology, nextSeq, type AnyBuilder, type Ctx } from './llm-orchestrator-chain.ts';
import type { Call, DagOptions, Definer, JoinFn, NodeFn, Pump, RunFn, SystemAdapter, TokenConsumer, TokenPipe } from './types.ts';

function runner(engine: Engine, t: AnyTopology): RunFn {
  return async (input) => {
    const r = await engine.run(t, input);
    if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
    return r.output as number;
  };
}

/**
 * W8/W9: an llm node → a map node streaming from it (`streamFrom` + `ctx.tokens`)
 * that hands every token to `consumer` and counts them → a sink node.
 */
function tokenPipe(provider: Provider, model: string, maxTokens: number | undefined, consumer: TokenConsumer): TokenPipe {
  const engine = createEngine({ models: createModels({ providers: [provider] }) });
  const t = (topology(`tokens-${nextSeq()}`) as AnyBuilder)
    .llm('gen', { model: `${provider.name}:${model}`, ...(maxTokens === undefined ? {} : { maxTokens }), prompt: (ctx: NodeContext<string>) => ctx.input })
    .map('consume', {
      streamFrom: 'gen',
      run: (ctx: NodeContext) => new Promise<number>((resolve, reject) => {
        let n = 0;
        ctx.tokens('gen').subscribe({
          next: (c) => {
            if (c.kind !== 'token') return;
            consumer.token(c.index, c.text);
            n++;
          },
          error: reject,
          complete: () => resolve(n),
        });
        consumer.ready?.();
      }),
    })
    .map('sink', { after: ['consume'], run: (ctx: Ctx) => ctx.deps['consume']! })
    .build({ output: 'sink' });
  return async (prompt) => {
    const r = await engine.run(t, prompt);
    if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
    return r.output as number;
  };
}

/**
 * W10: `call` wrapped exactly as operators/llm.ts wraps one model call: withRetries
 * around Resilience.inBulkhead around Breakers.execute, with what the operator
 * builds per call for them (the retry options, the `again` test, the hooks and
 * their closures, `return await` in a try). `bulkhead` configures one for the provider.
 */
/** W10: exactly what the llm operator wraps around each model call (src/resilience/guard.ts). */
function guard(call: Call, bulkhead: boolean): Call {
  const ref = 'sim:fast';
  const provider = 'sim';
  const resilience = new Resilience(bulkhead ? { bulkheads: { [provider]: { limit: 64, queue: 1024 } } } : {}, () => undefined);
  const signal = new AbortController().signal; // the node's signal: one per node, not per call
  const budget = { remaining: resilience.retryBudget }; // the run's retry budget
  return () => guardedCall(resilience, new CallHooks(ref, provider, resilience.retry, signal, budget), call);
}

const definer: Definer<AnyTopology, Engine> = {
  // A fresh engine per iteration, made outside the timing; building validates
  // (cycles, dependencies, caps); compile is engine.compile on that engine.
  setup: () => createEngine(),
  define: (fns) => chainTopology(fns, undefined),
  compile: (t, engine) => {
    engine.compile(t);
    return runner(engine, t);
  },
};

export const system: SystemAdapter = {
  id: 'llm-orchestrator',
  chain(fns: readonly NodeFn[], options: DagOptions): RunFn {
    return runner(createEngine(), chainTopology(fns, options.maxInFlight));
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn, options: DagOptions): RunFn {
    let b: AnyBuilder = topology(`fan-${branches.length}-${nextSeq()}`, { maxInFlight: options.maxInFlight });
    b = b.map('src', { run: (ctx: Ctx) => source(ctx.input) });
    const ids = branches.map((fn, k) => {
      const id = `b${k}`;
      b = b.map(id, { after: ['src'], run: (ctx: Ctx) => fn(ctx.deps['src']!) });
      return id;
    });
    b = b.join('join', { after: ids, run: (ctx: Ctx) => join(ids.map((id) => ctx.deps[id]!)) });
    return runner(createEngine(), b.build({ output: 'join' }));
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    const engine = createEngine();
    const t = chainTopology([work], cap, cap);
    const sub = engine.stream(t, { [Symbol.iterator]: () => source }, { maxInFlight: cap }).subscribe({
      next: (r) => {
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
        onResult(r.output as number);
      },
      error: (e: unknown) => { throw e; },
    });
    return {
      stop: async () => sub.unsubscribe(),
      admitted: () => engine.inFlight,
    };
  },
  definer: definer as Definer<unknown, unknown>,
  tokenPipe,
  guard,
  kafkaTokens: (setup) => kafkaTokens(setup),
  kafkaWorker: (setup, maxInFlight) => kafkaWorker(setup, maxInFlight),
  kafkaClient: (setup) => kafkaClient(setup),
  kafkaServe: (setup, maxInFlight) => kafkaServe(setup, maxInFlight),
  // loaded on demand: the stores (better-sqlite3, pg) stay out of the other workloads' children
  durableChain: async (fns, setup) => (await import('./llm-orchestrator-durable.ts')).durableChain(fns, setup),
};
