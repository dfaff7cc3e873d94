import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, fanOut, isNodeError, topology, type NodeContext } from '../src/index.ts';
import { collect, deferred, flush, operatorConformance, type Deferred } from '../test/support/helpers.ts';

/** Each call of `each` waits on its own gate; tracks how many are active at once. */
function gatedWork<R>(value: (item: number) => R): {
  readonly each: (item: number) => Promise<R>;
  readonly gates: Map<number, Deferred<void>>;
  readonly stats: { active: number; peak: number; started: number[] };
} {
  const gates = new Map<number, Deferred<void>>();
  const stats = { active: 0, peak: 0, started: [] as number[] };
  return {
    gates,
    stats,
    each: async (item) => {
      stats.active++;
      stats.peak = Math.max(stats.peak, stats.active);
      stats.started.push(item);
      const d = deferred();
      gates.set(item, d);
      try {
        await d.promise;
      } finally {
        stats.active--;
      }
      return value(item);
    },
  };
}

describe('fanOut operator', () => {
  operatorConformance({
    nodeId: 'f',
    build: (behaviour) =>
      topology('fanOut-conformance', { input: z.number() })
        .fanOut('f', { items: ({ input }) => [input, input], each: (item, _i, { signal }) => behaviour(item, signal) })
        .build({ output: 'f' }),
    expected: (n) => [n * 10, n * 10],
  });

  it('fanOut() builds a fanOut NodeDef', () => {
    const def = fanOut('f', { items: () => [1], each: (x: number) => x });
    expect(def.kind).toBe('fanOut');
  });

  it('processes at most itemCap elements at once and gathers results in item order', async () => {
    const w = gatedWork((item) => item * 2);
    const t = topology('fanOut-cap', { input: z.number() })
      .fanOut('f', { itemCap: 3, items: ({ input }) => Array.from({ length: input }, (_, i) => i), each: (item) => w.each(item) })
      .build({ output: 'f' });
    const pending = createEngine().run(t, 10);
    // Release in a scrambled order; at every step at most 3 are active.
    const order = [2, 0, 1, 5, 3, 4, 8, 6, 7, 9];
    for (const item of order) {
      for (let k = 0; k < 5 && !w.gates.has(item); k++) await flush();
      expect(w.stats.active).toBeLessThanOrEqual(3);
      w.gates.get(item)!.resolve();
    }
    const r = await pending;
    expect(r.status).toBe('completed');
    expect(r.output).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(w.stats.peak).toBe(3);
    expect([...w.stats.started].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('defaults itemCap to 4', async () => {
    const w = gatedWork((item) => item);
    const t = topology('fanOut-default-cap')
      .fanOut('f', { items: () => [0, 1, 2, 3, 4, 5, 6, 7], each: (item: number) => w.each(item) })
      .build({ output: 'f' });
    const pending = createEngine().run(t, undefined);
    await flush();
    expect(w.stats.active).toBe(4);
    for (let item = 0; item < 8; item++) {
      for (let k = 0; k < 5 && !w.gates.has(item); k++) await flush();
      w.gates.get(item)!.resolve();
    }
    expect((await pending).output).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(w.stats.peak).toBe(4);
  });

  it('passes item, index and context to each', async () => {
    const t = topology('fanOut-args', { input: z.string() })
      .map('words', { run: ({ input }) => input.split(' ') })
      .fanOut('f', {
        after: ['words'],
        items: ({ deps }: NodeContext<string, { words: string[] }>) => deps.words,
        each: (word: string, index: number, ctx: NodeContext<string, { words: string[] }>) => `${index}:${word}/${ctx.deps.words.length}`,
      })
      .build({ output: 'f' });
    const r = await createEngine().run(t, 'a b c');
    expect(r.output).toEqual(['0:a/3', '1:b/3', '2:c/3']);
  });

  it('an empty list gives [] without calling each', async () => {
    let calls = 0;
    const t = topology('fanOut-empty')
      .fanOut('f', { items: async () => [] as number[], each: (x: number) => { calls++; return x; } })
      .build({ output: 'f' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('completed');
    expect(r.output).toEqual([]);
    expect(calls).toBe(0);
  });

  it('an element failing fails the node, and no further elements start', async () => {
    const started: number[] = [];
    const t = topology('fanOut-element-fails')
      .fanOut('f', {
        itemCap: 1,
        items: () => [1, 2, 3, 4],
        each: async (x: number) => {
          started.push(x);
          if (x === 2) throw new Error('element 2 broke');
          return x;
        },
      })
      .build({ output: 'f' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('f');
    expect(r.error?.message).toContain('element 2 broke');
    await flush();
    expect(started).toEqual([1, 2]);
  });

  it('an element failing aborts the node signal seen by the other elements', async () => {
    const abortedItems: number[] = [];
    const t = topology('fanOut-element-fails-abort')
      .fanOut('f', {
        itemCap: 4,
        items: () => [1, 2, 3],
        each: (x: number, _i: number, { signal }: NodeContext) => {
          if (x === 2) return Promise.reject(new Error('two'));
          return new Promise<number>((_, reject) => signal.addEventListener('abort', () => { abortedItems.push(x); reject(new Error('aborted')); }));
        },
      })
      .build({ output: 'f' });
    const r = await createEngine().run(t, undefined);
    expect(r.status).toBe('failed');
    expect(abortedItems.sort()).toEqual([1, 3]);
  });

  it('items() throwing fails the node', async () => {
    const t = topology('fanOut-items-throw')
      .fanOut('f', { items: () => { throw new Error('no items'); }, each: (x: number) => x })
      .build();
    const r = await createEngine().run(t, undefined);
    expect(isNodeError(r.error) && r.error.nodeId).toBe('f');
  });

  it('itemCap holds per run: concurrent runs each get their own item budget', async () => {
    const w = gatedWork((item) => item);
    const t = topology('fanOut-per-run', { input: z.number() })
      .fanOut('f', { itemCap: 2, items: ({ input }) => [input * 10, input * 10 + 1, input * 10 + 2], each: (item) => w.each(item) })
      .build({ output: 'f' });
    const done = collect(createEngine().stream(t, [1, 2]));
    await flush();
    expect(w.stats.active).toBe(4);
    for (const item of [10, 11, 12, 20, 21, 22]) {
      for (let k = 0; k < 5 && !w.gates.has(item); k++) await flush();
      w.gates.get(item)!.resolve();
    }
    const outputs = (await done).map((r) => r.output);
    expect(outputs).toContainEqual([10, 11, 12]);
    expect(outputs).toContainEqual([20, 21, 22]);
  });

  it('items hold a global task slot (engine concurrency: 1 → one item at a time)', async () => {
    const w = gatedWork((item) => item);
    const t = topology('fanOut-global')
      .fanOut('f', { itemCap: 4, items: () => [0, 1, 2, 3], each: (item: number) => w.each(item) })
      .build({ output: 'f' });
    const pending = createEngine({ concurrency: 1 }).run(t, undefined);
    for (let item = 0; item < 4; item++) {
      for (let k = 0; k < 5 && !w.gates.has(item); k++) await flush();
      expect(w.stats.active).toBeLessThanOrEqual(1);
      w.gates.get(item)?.resolve();
    }
    expect((await pending).output).toEqual([0, 1, 2, 3]);
    expect(w.stats.peak).toBe(1);
  });

  it('items hold the node pool (pool of 2 → at most two items at once)', async () => {
    const w = gatedWork((item) => item);
    const t = topology('fanOut-pool')
      .fanOut('f', { itemCap: 4, pool: 'llm', items: () => [0, 1, 2, 3], each: (item: number) => w.each(item) })
      .build({ output: 'f' });
    const pending = createEngine({ pools: { llm: 2 } }).run(t, undefined);
    for (let item = 0; item < 4; item++) {
      for (let k = 0; k < 5 && !w.gates.has(item); k++) await flush();
      expect(w.stats.active).toBeLessThanOrEqual(2);
      w.gates.get(item)?.resolve();
    }
    expect((await pending).output).toEqual([0, 1, 2, 3]);
    expect(w.stats.peak).toBe(2);
  });
});
