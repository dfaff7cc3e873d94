import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isNodeError, isValidationError, map, topology, type NodeContext } from '../src/index.ts';
import { collect, deferred, flush, operatorConformance, untilAborted, type Deferred } from '../test/support/helpers.ts';

describe('map operator', () => {
  operatorConformance({
    nodeId: 'm',
    build: (behaviour) =>
      topology('map-conformance', { input: z.number() })
        .map('m', { run: ({ input, signal }) => behaviour(input, signal) })
        .build({ output: 'm' }),
    expected: (n) => n * 10,
  });

  it('map() builds a map NodeDef usable with .node()', async () => {
    const def = map('upper', { run: ({ input }: NodeContext<string>) => input.toUpperCase() });
    expect(def.kind).toBe('map');
    expect(def.after).toEqual([]);
    const t = topology('map-node', { input: z.string() }).node<'upper', string>(def).build({ output: 'upper' });
    const r = await createEngine().run(t, 'abc');
    expect(r.output).toBe('ABC');
  });

  it('chains see the typed outputs of their dependencies', async () => {
    const t = topology('map-chain', { input: z.object({ n: z.number() }) })
      .map('a', { run: ({ input }) => input.n + 1 })
      .map('b', { after: ['a'], run: async ({ deps }) => deps.a * 2 })
      .map('c', { after: ['a', 'b'], run: ({ deps }) => `${deps.a}/${deps.b}` })
      .build({ output: 'c' });
    const r = await createEngine().run(t, { n: 4 });
    expect(r.status).toBe('completed');
    expect(r.output).toBe('5/10');
    expect(r.outputs).toEqual({ a: 5, b: 10, c: '5/10' });
  });

  it('a failing node stops its dependants and aborts its running siblings', async () => {
    const siblingAborted = deferred<boolean>();
    let dependantRan = false;
    const t = topology('map-fail', { input: z.number() })
      .map('bad', { run: async () => { await Promise.resolve(); throw new Error('bad'); } })
      .map('slow', { run: ({ signal }) => untilAborted(signal, () => siblingAborted.resolve(true)) })
      .map('after', { after: ['bad'], run: () => { dependantRan = true; return 1; } })
      .build();
    const r = await createEngine().run(t, 1);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('bad');
    expect(await siblingAborted.promise).toBe(true);
    expect(dependantRan).toBe(false);
  });

  it('an output schema mismatch fails the node with OUTPUT_INVALID naming the field', async () => {
    const t = topology('map-output', { input: z.number() })
      .map('m', { output: z.object({ n: z.number() }), run: () => ({ n: 'x' }) as unknown as { n: number } })
      .build({ output: 'm' });
    const r = await createEngine().run(t, 1);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('OUTPUT_INVALID');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('m');
    const cause = r.error?.cause;
    expect(isValidationError(cause) && cause.issues[0]!.path).toEqual(['output', 'n']);
  });

  it('a node cap limits concurrent calls across the runs of a stream', async () => {
    let active = 0;
    let peak = 0;
    const gates: Deferred<void>[] = [];
    const t = topology('map-cap', { input: z.number() })
      .map('m', {
        cap: 2,
        run: async ({ input }) => {
          active++;
          peak = Math.max(peak, active);
          const d = deferred();
          gates.push(d);
          await d.promise;
          active--;
          return input;
        },
      })
      .build({ output: 'm' });
    const done = collect(createEngine().stream(t, [1, 2, 3, 4, 5, 6]));
    for (let i = 0; i < 6; i++) {
      await flush();
      expect(active).toBeLessThanOrEqual(2);
      gates.shift()?.resolve();
    }
    const results = await done;
    expect(results.map((r) => r.output).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(2);
  });
});
