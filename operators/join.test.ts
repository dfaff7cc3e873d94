import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, join, topology } from '../src/index.ts';
import { andThen, deferred, flush, operatorConformance } from '../test/support/helpers.ts';

describe('join operator', () => {
  operatorConformance({
    nodeId: 'j',
    build: (behaviour) =>
      topology('join-conformance', { input: z.number() })
        .map('a', { run: ({ input }) => input + 1 })
        .map('b', { run: async ({ input }) => input * 2 })
        .join('j', {
          after: ['a', 'b'],
          run: ({ input, deps, signal }) => andThen(behaviour(input, signal), (v) => ({ v, a: deps.a, b: deps.b })),
        })
        .build({ output: 'j' }),
    expected: (n) => ({ v: n * 10, a: n + 1, b: n * 2 }),
  });

  it('join() builds a join NodeDef', () => {
    const def = join('j', { after: ['a', 'b'] });
    expect(def.kind).toBe('join');
    expect(def.after).toEqual(['a', 'b']);
  });

  it('without run, the output is the record of the parent outputs', async () => {
    const t = topology('join-gather', { input: z.number() })
      .map('a', { run: ({ input }) => input + 1 })
      .map('b', { run: async ({ input }) => `${input}` })
      .join('j', { after: ['a', 'b'] })
      .build({ output: 'j' });
    const r = await createEngine().run(t, 1);
    expect(r.status).toBe('completed');
    expect(r.output).toEqual({ a: 2, b: '1' });
  });

  it('fires once, only after every parent settled', async () => {
    const slow = deferred<string>();
    let fired = 0;
    const t = topology('join-waits', { input: z.number() })
      .map('fast', { run: () => 'fast' })
      .map('slow', { run: () => slow.promise })
      .join('j', { after: ['fast', 'slow'], run: ({ deps }) => { fired++; return `${deps.fast}+${deps.slow}`; } })
      .build({ output: 'j' });
    const pending = createEngine().run(t, 0);
    await flush();
    expect(fired).toBe(0);
    slow.resolve('slow');
    const r = await pending;
    expect(r.output).toBe('fast+slow');
    expect(fired).toBe(1);
  });

  it('sees only the parents that ran: skipped parents are absent from deps', async () => {
    let seen: string[] = [];
    const t = topology('join-partial', { input: z.string() })
      .route('r', { branches: { a: 'a', b: 'b' }, select: ({ input }) => (input === 'a' ? 'a' : 'b') })
      .map('a', { run: () => 'A' })
      .map('b', { run: () => 'B' })
      .join('j', {
        after: ['a', 'b', 'r'],
        run: ({ deps }) => {
          seen = Object.keys(deps).sort();
          return deps;
        },
      })
      .build({ output: 'j' });
    const engine = createEngine();
    const ra = await engine.run(t, 'a');
    expect(seen).toEqual(['a', 'r']);
    expect(ra.output).toEqual({ a: 'A', r: 'a' });
    expect(Object.hasOwn(ra.output as object, 'b')).toBe(false);
    const rb = await engine.run(t, 'b');
    expect(seen).toEqual(['b', 'r']);
    expect(rb.output).toEqual({ b: 'B', r: 'b' });
  });

  it('is skipped when every parent is skipped, and the skip propagates further', async () => {
    let joined = 0;
    let downstream = 0;
    const t = topology('join-all-skipped', { input: z.number() })
      .route('r', { branches: { go: ['a', 'b'], stop: [] }, select: ({ input }) => (input > 0 ? 'go' : 'stop') })
      .map('a', { run: () => 1 })
      .map('b', { run: () => 2 })
      .join('j', { after: ['a', 'b'], run: ({ deps }) => { joined++; return (deps.a ?? 0) + (deps.b ?? 0); } })
      .map('after', { after: ['j'], run: ({ deps }) => { downstream++; return deps.j; } })
      .build();
    const engine = createEngine();
    const stopped = await engine.run(t, 0);
    expect(stopped.status).toBe('completed');
    expect([...stopped.skipped].sort()).toEqual(['a', 'after', 'b', 'j']);
    expect(stopped.outputs).toEqual({ r: 'stop' });
    expect(joined).toBe(0);
    expect(downstream).toBe(0);
    expect(stopped.events.some((e) => e.type === 'node.skipped' && e.nodeId === 'j')).toBe(true);
    const went = await engine.run(t, 1);
    expect(went.outputs).toMatchObject({ j: 3, after: 3 });
    expect(joined).toBe(1);
  });

  it('a failed parent fails the run before the join fires', async () => {
    let joined = 0;
    const t = topology('join-parent-fails', { input: z.number() })
      .map('a', { run: () => { throw new Error('parent broke'); } })
      .map('b', { run: () => 2 })
      .join('j', { after: ['a', 'b'], run: () => { joined++; return 0; } })
      .build({ output: 'j' });
    const r = await createEngine().run(t, 0);
    expect(r.status).toBe('failed');
    expect(r.error?.message).toContain("node 'a' failed");
    expect(joined).toBe(0);
  });
});
