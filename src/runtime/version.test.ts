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
  it('is v2:sha256 and the same for the same definition built twice', () => {
    const v = topologyVersion(build());
    expect(v).toMatch(/^v2:[0-9a-f]{64}$/);
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

/** topologyVersion of `plain()` below, its functions' text as this file has it: the same under any build of the library (its node kinds' code is not hashed). */
const PLAIN_V2 = 'v2:642915e6ce2b26cfa5210b1528779b7e1e5e1444c9be8854693aa9682dbeedc9';

describe('topologyVersion and experiments', () => {
  const plain = () => topology('plain', { input: z.object({ q: z.string() }), maxInFlight: 4 })
    .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q, system: 'be brief' })
    .map('shout', { after: ['answer'], run: ({ deps }) => deps.answer.text.toUpperCase() })
    .build({ output: 'shout' });
  const withExperiment = (weightB: number, model = 'sim:other') => topology('plain', {
    input: z.object({ q: z.string() }),
    maxInFlight: 4,
    experiment: { variants: { control: { weight: 100 - weightB }, b: { weight: weightB, nodes: { answer: { model } } } } },
  })
    .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q, system: 'be brief' })
    .map('shout', { after: ['answer'], run: ({ deps }) => deps.answer.text.toUpperCase() })
    .build({ output: 'shout' });

  it('keeps the version of a topology without an experiment as it was before experiments counted', () => {
    // A pinned value: a change to the hash that moves it would leave recorded runs unable to resume.
    expect(topologyVersion(plain())).toBe(PLAIN_V2);
  });

  it('changes with an experiment, its weights and what a variant changes', () => {
    const versions = [plain(), withExperiment(10), withExperiment(20), withExperiment(10, 'sim:third')].map(topologyVersion);
    expect(new Set(versions).size).toBe(4);
    expect(topologyVersion(withExperiment(10))).toBe(versions[1]);
  });
});
