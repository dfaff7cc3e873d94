import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../src/index.ts';

describe('engine smoke', () => {
  it('runs a typed chain, a route and a join', async () => {
    const t = topology('smoke', { input: z.object({ n: z.number() }) })
      .map('a', { run: ({ input }) => input.n + 1 })
      .map('b', { after: ['a'], run: async ({ deps }) => deps.a * 2 })
      .route('r', { after: ['b'], branches: { big: 'big', small: ['small'] }, select: ({ deps }) => (deps.b > 10 ? 'big' : 'small') })
      .map('big', { run: () => 'BIG' })
      .map('small', { run: () => 'small' })
      .join('out', { after: ['big', 'small'], run: ({ deps }) => deps.big ?? deps.small })
      .build({ output: 'out' });
    const engine = createEngine();
    const r1 = await engine.run(t, { n: 10 });
    expect(r1.status).toBe('completed');
    expect(r1.output).toBe('BIG');
    expect(r1.skipped).toEqual(['small']);
    const r2 = await engine.run(t, { n: 1 });
    expect(r2.output).toBe('small');
    expect(r2.events.map((e) => e.seq)).toEqual(r2.events.map((_, i) => i));
    const bad = await engine.run(t, { n: 'x' } as never);
    expect(bad.status).toBe('failed');
    expect(bad.error?.message).toContain('input.n');
  });
});
