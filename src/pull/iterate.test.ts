import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, createSimProvider, topology } from '../index.ts';
import { iterate, tokens } from './iterate.ts';
import { deferred, flush } from '../../test/support/helpers.ts';

describe('iterate', () => {
  it('yields every result and admits inputs only as results are taken', async () => {
    const engine = createEngine();
    const gates = new Map<number, () => void>();
    const t = topology('pull', { input: z.number() })
      .map('work', { run: ({ input }) => new Promise<number>((resolve) => gates.set(input, () => resolve(input * 2))) })
      .build({ output: 'work' });
    let pulled = 0;
    function* inputs(): Generator<number> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const it = iterate(engine, t, inputs(), { maxInFlight: 3 })[Symbol.asyncIterator]();
    const first = it.next();
    await flush();
    expect(gates.size).toBe(3); // three runs in flight, no more
    for (const open of gates.values()) open();
    expect((await first).value?.output).toBe(0);
    await flush();
    // two results are waiting to be taken and one run took the freed permit: never more than 3 ahead
    expect(gates.size).toBe(4);
    expect(pulled).toBeLessThanOrEqual(5);
    await it.return?.();
  });

  it('works with ix operators and for await', async () => {
    const engine = createEngine();
    const t = topology('pull-sum', { input: z.number() }).map('sq', { run: ({ input }) => input * input }).build({ output: 'sq' });
    const outputs: number[] = [];
    for await (const r of iterate(engine, t, [1, 2, 3, 4], { maxInFlight: 2 })) if (r.status === 'completed') outputs.push(r.output);
    expect(outputs.sort((a, b) => a - b)).toEqual([1, 4, 9, 16]);
  });

  it('breaking out of the loop cancels the runs in flight', async () => {
    const engine = createEngine();
    const started = deferred();
    const t = topology('pull-break', { input: z.number() })
      .map('slow', {
        run: ({ input, signal }) => (input === 0 ? input : new Promise((_, reject) => {
          started.resolve();
          signal.addEventListener('abort', () => reject(signal.reason as Error));
        })),
      })
      .build({ output: 'slow' });
    for await (const r of iterate(engine, t, [0, 1, 2], { maxInFlight: 3 })) {
      expect(r.output).toBe(0);
      await started.promise;
      break;
    }
    await flush();
    expect(engine.inFlight).toBe(0);
  });
});

describe('tokens', () => {
  it("yields one node's tokens in order and ends with the node", async () => {
    const engine = createEngine({ models: createModels({ providers: [createSimProvider({ respond: () => 'one two three' })] }) });
    const t = topology('pull-tokens').llm('draft', { model: 'sim:fast', prompt: () => 'hi' }).build({ output: 'draft' });
    const draft = tokens(engine.events$, 'run-tok', 'draft');
    const done = engine.run(t, undefined, { runId: 'run-tok' });
    let text = '';
    for await (const chunk of draft) if (chunk.kind === 'token') text += chunk.text;
    const r = await done;
    expect(text).toBe(r.output?.text);
    expect(text).toBe('one two three');
  });
});
