import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { isTopologyError } from '../errors.ts';
import type { ExperimentSpec } from '../definition/types.ts';
import { validateTopology } from './validate.ts';

const base = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q })
  .map('shape', { after: ['answer'], run: ({ deps }) => deps.answer.text })
  .build({ output: 'shape' });

const check = (experiment: unknown) => validateTopology({ ...base, experiment: experiment as ExperimentSpec });
const codes = (experiment: unknown) => check(experiment).issues.map((i) => [i.code, i.path.join('.')]);

describe('validateTopology: experiment', () => {
  it('accepts a well-formed experiment', () => {
    expect(check({ stickyBy: 'tenant', control: 'b', variants: { a: { weight: 1 }, b: { weight: 0, nodes: { answer: { model: ['sim:x', 'sim:y'], temperature: 0.3 } } } } }).ok).toBe(true);
  });

  it('names bad fields of the shape with their paths', () => {
    expect(codes({ variants: { a: { weight: -1 } } })).toEqual([['too_small', 'experiment.variants.a.weight']]);
    expect(codes({ variants: { a: { weight: 1, nodes: { answer: { temperature: 3 } } } } })).toEqual([['too_big', 'experiment.variants.a.nodes.answer.temperature']]);
    expect(codes({ variants: { a: { weight: 1 } }, stickyBy: 'session' })).toEqual([['invalid_value', 'experiment.stickyBy']]);
    expect(codes({ variants: {} })).toEqual([['custom', 'experiment.variants']]);
    expect(codes({ variants: { a: { weight: 1, extra: true } } })).toEqual([['unrecognized_keys', 'experiment.variants.a']]);
    expect(check({ variants: { '1bad': { weight: 1 } } }).issues[0]!.path.slice(0, 2)).toEqual(['experiment', 'variants']);
  });

  it('needs some traffic, a known control, and variants that change llm nodes the topology has', () => {
    expect(codes({ variants: { a: { weight: 0 }, b: { weight: 0 } } })).toEqual([['no_traffic', 'experiment.variants']]);
    expect(codes({ control: 'z', variants: { a: { weight: 1 } } })).toEqual([['unknown_control', 'experiment.control']]);
    expect(codes({ variants: { a: { weight: 1, nodes: { nope: { model: 'sim:x' } } } } })).toEqual([['unknown_node', 'experiment.variants.a.nodes.nope']]);
    expect(codes({ variants: { a: { weight: 1, nodes: { shape: { model: 'sim:x' } } } } })).toEqual([['not_llm_node', 'experiment.variants.a.nodes.shape']]);
  });

  it('the builder refuses a topology with a bad experiment', () => {
    const build = () => topology('qa', { experiment: { variants: { a: { weight: 1 } }, control: 'b' } }).map('m', { run: () => 1 }).build();
    let error: unknown;
    try { build(); } catch (e) { error = e; }
    expect(isTopologyError(error)).toBe(true);
    expect(String(error)).toMatch(/control 'b' is not a variant/);
  });
});
