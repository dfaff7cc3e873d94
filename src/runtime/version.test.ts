import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { topologyVersion } from './version.ts';

interface Knobs { prompt?: string; edge?: boolean; lower?: boolean; model?: string; schemaMax?: number }

const build = (k: Knobs = {}) => topology('t', { input: z.object({ q: z.string() }) })
  .map('a', k.lower === true ? { run: ({ input }) => input.q.toLowerCase() } : { run: ({ input }) => input.q.toUpperCase() })
  .map('b', { run: ({ input }) => input.q.length })
  .llm('c', { after: k.edge === true ? ['a', 'b'] : ['a'], model: k.model ?? 'sim:default', prompt: ({ deps }) => `${k.prompt ?? 'Say'} ${String(deps.a)}`, system: k.prompt ?? 'be brief' })
  .map('d', { after: ['c'], run: ({ deps }) => deps.c.text, output: z.string().max(k.schemaMax ?? 100) })
  .build({ output: 'd' });

describe('topologyVersion', () => {
  it('is v1:sha256 and the same for the same definition built twice', () => {
    const v = topologyVersion(build());
    expect(v).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(topologyVersion(build())).toBe(v);
  });

  it('changes with a prompt, an edge, a function, a model or a schema', () => {
    const base = topologyVersion(build());
    const variants = [
      build({ prompt: 'Shout' }),
      build({ edge: true }),
      build({ lower: true }), // another function text
      build({ model: 'sim:other' }),
      build({ schemaMax: 5 }),
    ].map(topologyVersion);
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('changes with the topology name', () => {
    const a = topology('x').map('a', { run: () => 1 }).build();
    const b = topology('y').map('a', { run: () => 1 }).build();
    expect(topologyVersion(a)).not.toBe(topologyVersion(b));
  });
});
