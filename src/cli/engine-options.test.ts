import { describe, expect, it } from 'vitest';
import type { Guard } from '../definition/guard.ts';
import { mergeEngineOptions, withGuards } from './engine-options.ts';

const g = (name: string): Guard => ({ name });

describe('mergeEngineOptions', () => {
  it('puts the files\' pools together and keeps every guard, in file order', () => {
    const merged = mergeEngineOptions([
      { file: 'a.ts', options: { pools: { llm: 4 }, guard: g('a'), maxInFlight: 8 } },
      { file: 'b.ts', options: { pools: { tools: 2, llm: 4 }, guard: [g('b1'), g('b2')], maxInFlight: 99 } },
      { file: 'c.yaml', options: {} },
    ]);
    expect(merged.ok).toBe(true);
    if (!merged.ok) return;
    expect(merged.options.pools).toEqual({ llm: 4, tools: 2 });
    expect((merged.options.guard as Guard[]).map((x) => x.name)).toEqual(['a', 'b1', 'b2']);
    expect(merged.options.maxInFlight).toBe(8); // any other option: the first file that sets it
  });

  it('refuses a pool two files size differently, naming the pool and both files', () => {
    const merged = mergeEngineOptions([{ file: 'a.ts', options: { pools: { llm: 4 } } }, { file: 'b.ts', options: { pools: { llm: 8 } } }]);
    expect(merged).toEqual({ ok: false, issues: [{ code: 'pool_conflict', path: ['pools', 'llm'], message: "pool 'llm' is 4 in a.ts but 8 in b.ts" }] });
  });

  it('adds nothing the files do not set', () => {
    expect(mergeEngineOptions([{ file: 'a.ts', options: {} }])).toEqual({ ok: true, options: {} });
    expect(mergeEngineOptions([])).toEqual({ ok: true, options: {} });
  });
});

describe('withGuards', () => {
  it('checks the command\'s guards first, then the file\'s own, instead of replacing them', () => {
    expect((withGuards({ guard: g('file') }, [g('policy'), g('budget')]).guard as Guard[]).map((x) => x.name)).toEqual(['policy', 'budget', 'file']);
    expect((withGuards({}, [g('policy')]).guard as Guard[]).map((x) => x.name)).toEqual(['policy']);
    const options = { pools: { llm: 1 } };
    expect(withGuards(options, [])).toBe(options);
  });
});
