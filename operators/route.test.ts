import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, isNodeError, isValidationError, route, topology, type NodeContext } from '../src/index.ts';
import { andThen, operatorConformance } from '../test/support/helpers.ts';

describe('route operator', () => {
  operatorConformance({
    nodeId: 'r',
    build: (behaviour) =>
      topology('route-conformance', { input: z.number() })
        .route('r', {
          branches: { even: 'even', odd: 'odd' },
          select: ({ input, signal }) => andThen(behaviour(input, signal), () => (input % 2 === 0 ? 'even' : 'odd')),
        })
        .map('even', { run: ({ input }) => `even:${input}` })
        .map('odd', { run: ({ input }) => `odd:${input}` })
        .join('out', { after: ['even', 'odd'], run: ({ deps }) => deps.even ?? deps.odd })
        .build({ output: 'out' }),
    expected: (n) => (n % 2 === 0 ? `even:${n}` : `odd:${n}`),
  });

  it('route() builds a route NodeDef with normalised branch lists', () => {
    const def = route('r', { branches: { a: 'x', b: ['y', 'z'], none: [] }, select: (): 'a' | 'b' | 'none' => 'a' });
    expect(def.kind).toBe('route');
    expect(def.branches).toEqual({ a: ['x'], b: ['y', 'z'], none: [] });
  });

  it('runs only the chosen branch; the others are skipped and the route output is the branch name', async () => {
    const calls: string[] = [];
    const t = topology('route-only', { input: z.string() })
      .route('r', { branches: { left: 'l', right: ['r1', 'r2'] }, select: ({ input }) => (input === 'L' ? 'left' : 'right') })
      .map('l', { run: () => { calls.push('l'); return 'L'; } })
      .map('r1', { run: () => { calls.push('r1'); return 'R1'; } })
      .map('r2', { run: () => { calls.push('r2'); return 'R2'; } })
      .build({ output: 'r' });
    const engine = createEngine();
    const left = await engine.run(t, 'L');
    expect(left.status).toBe('completed');
    expect(left.output).toBe('left');
    expect(left.outputs).toEqual({ r: 'left', l: 'L' });
    expect([...left.skipped].sort()).toEqual(['r1', 'r2']);
    expect(calls).toEqual(['l']);
    calls.length = 0;
    const right = await engine.run(t, 'R');
    expect(right.output).toBe('right');
    expect([...right.skipped]).toEqual(['l']);
    expect(calls.sort()).toEqual(['r1', 'r2']);
    const skippedEvents = right.events.filter((e) => e.type === 'node.skipped').map((e) => (e.type === 'node.skipped' ? e.nodeId : ''));
    expect(skippedEvents).toEqual(['l']);
  });

  it('an unknown branch name fails the run with ROUTE_UNKNOWN_BRANCH; no branch runs', async () => {
    let ran = 0;
    const t = topology('route-unknown', { input: z.string() })
      .route('r', { branches: { a: 'a', b: 'b' }, select: ({ input }) => input as 'a' | 'b' })
      .map('a', { run: () => { ran++; return 1; } })
      .map('b', { run: () => { ran++; return 2; } })
      .build();
    const r = await createEngine().run(t, 'nope');
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('ROUTE_UNKNOWN_BRANCH');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('r');
    expect(r.error?.message).toContain('"nope"');
    const cause = r.error?.cause;
    expect(isValidationError(cause) && cause.issues[0]!.message).toContain('a, b');
    expect(ran).toBe(0);
  });

  it('a non-string choice is an unknown branch too', async () => {
    const t = topology('route-nonstring', { input: z.number() })
      .route('r', { branches: { a: 'a' }, select: () => 42 as unknown as 'a' })
      .map('a', { run: () => 1 })
      .build();
    const r = await createEngine().run(t, 0);
    expect(r.error?.code).toBe('ROUTE_UNKNOWN_BRANCH');
  });

  it('a skip propagates down the untaken branch, so a later join still fires', async () => {
    let joined = 0;
    const t = topology('route-skip-join', { input: z.boolean() })
      .route('r', { branches: { deep: 'a', shallow: 'b' }, select: ({ input }) => (input ? 'deep' : 'shallow') })
      .map('a', { run: async () => 'a' })
      .map('a2', { after: ['a'], run: ({ deps }) => `${deps.a}2` })
      .map('b', { run: () => 'b' })
      .join('j', {
        after: ['a2', 'b'],
        run: ({ deps }) => {
          joined++;
          return Object.keys(deps).sort().join(',');
        },
      })
      .build({ output: 'j' });
    const engine = createEngine();
    const shallow = await engine.run(t, false);
    expect(shallow.status).toBe('completed');
    expect(shallow.output).toBe('b');
    expect([...shallow.skipped].sort()).toEqual(['a', 'a2']);
    const deep = await engine.run(t, true);
    expect(deep.output).toBe('a2');
    expect([...deep.skipped]).toEqual(['b']);
    expect(joined).toBe(2);
  });

  it('a branch that enables nothing skips every target', async () => {
    const t = topology('route-empty-branch', { input: z.number() })
      .route('r', { branches: { go: 'x', stop: [] }, select: ({ input }) => (input > 0 ? 'go' : 'stop') })
      .map('x', { run: () => 'x' })
      .build({ output: 'x' });
    const engine = createEngine();
    const stopped = await engine.run(t, 0);
    expect(stopped.status).toBe('completed');
    expect([...stopped.skipped]).toEqual(['x']);
    expect(stopped.outputs).toEqual({ r: 'stop' });
    expect((await engine.run(t, 1)).output).toBe('x');
  });

  it('a skipped output node gives output undefined', async () => {
    const t = topology('route-skipped-output', { input: z.number() })
      .route('r', { branches: { go: 'x', stop: [] }, select: (): 'go' | 'stop' => 'stop' })
      .map('x', { run: () => 'x' })
      .build({ output: 'x' });
    const r = await createEngine().run(t, 0);
    expect(r.status).toBe('completed');
    expect(r.output).toBeUndefined();
    const done = r.events.find((e) => e.type === 'run.completed');
    expect(done?.type === 'run.completed' && done.output).toBeUndefined();
  });

  it('select sees the outputs of its dependencies', async () => {
    const t = topology('route-deps', { input: z.number() })
      .map('score', { run: ({ input }) => input / 10 })
      .route('verdict', {
        after: ['score'],
        branches: { approve: 'publish', revise: 'rewrite' },
        select: ({ deps }: NodeContext<number, { score: number }>) => (deps.score > 0.8 ? 'approve' : 'revise'),
      })
      .map('publish', { run: () => 'published' })
      .map('rewrite', { run: () => 'rewritten' })
      .join('out', { after: ['publish', 'rewrite'], run: ({ deps }) => deps.publish ?? deps.rewrite })
      .build({ output: 'out' });
    const engine = createEngine();
    expect((await engine.run(t, 9)).output).toBe('published');
    expect((await engine.run(t, 3)).output).toBe('rewritten');
  });
});
