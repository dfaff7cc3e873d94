/**
 * Cost attribution: `engine.usage(filter)` and `engine.usageBy(dims)` by tenant, user, project,
 * topology, node, model and variant; sub-topology calls counted once; validation; the tuple bound.
 */
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.ts';
import { createEngine, createModels, topology, type Provider, type ProviderEvent, type RunLoop, type UsageTotals } from '../index.ts';
import { USAGE_OVERFLOW, UsageBook } from './usage.ts';
import { Run } from './run.ts';

/** Streams one word; bills 10 input and 5 output tokens. */
function provider(name: string): Provider {
  return {
    name,
    stream: () => new Observable<ProviderEvent>((s) => {
      s.next({ type: 'response', status: 200, rateLimit: {} });
      s.next({ type: 'text', text: 'ok' });
      s.next({ type: 'usage', usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0 } });
      s.next({ type: 'finish', reason: 'stop' });
      s.complete();
    }),
  };
}

/** A loop that only decides variants: runs of user `u-b` get `b`, the rest `a`. */
const loop: RunLoop = {
  decide: (r) => ({ variant: r.user === 'u-b' ? 'b' : 'a' }),
  ended: () => undefined,
  stats: () => [],
};

// 'a:big' costs $1 per million tokens each way: 15 tokens = $0.000015; 'b:small' is free
const CALL = 15e-6;

function setup() {
  const models = createModels({ providers: [provider('a'), provider('b')], prices: { 'a:big': { input: 1, output: 1 }, 'b:small': { input: 0, output: 0 } } });
  const engine = createEngine({ models, loop });
  const child = topology('child')
    .llm('inner', { model: 'b:small', prompt: () => 'hi' })
    .build({ output: 'inner' });
  const t = topology('parent')
    .llm('answer', { model: 'a:big', prompt: () => 'hi' })
    .sub('sub', { topology: child, input: () => ({}) })
    .build({ output: 'answer' });
  return { engine, t };
}

const calls = (u: UsageTotals): number => u.calls;

describe('engine.usage and engine.usageBy', () => {
  it('attributes each call to tenant, user, project, topology, node, model and variant, sub-topology calls once', async () => {
    const { engine, t } = setup();
    await engine.run(t, {}, { tenant: 'acme', user: 'u-a', project: 'search' });
    await engine.run(t, {}, { tenant: 'acme', user: 'u-b', project: 'chat' });
    await engine.run(t, {}, { tenant: 'globex', user: 'u-a' });
    await engine.run(t, {});

    // 4 runs x 2 calls (the parent's and the child's), each once
    expect(calls(engine.usage())).toBe(8);
    expect(engine.usage().costUsd).toBeCloseTo(4 * CALL, 12);
    expect(calls(engine.usage('acme'))).toBe(4);
    expect(engine.usage({ tenant: 'acme' })).toEqual(engine.usage('acme'));
    expect(calls(engine.usage({ tenant: 'acme', project: 'search' }))).toBe(2);
    expect(calls(engine.usage({ user: 'u-a' }))).toBe(4);
    expect(calls(engine.usage({ tenant: null }))).toBe(2);
    expect(calls(engine.usage({ project: null }))).toBe(4);
    expect(calls(engine.usage({ topology: 'child' }))).toBe(4);
    expect(calls(engine.usage({ topology: 'child', node: 'inner', model: 'b:small' }))).toBe(4);
    expect(engine.usage({ model: 'b:small' }).costUsd).toBe(0);
    expect(engine.usage({ model: 'a:big' }).costUsd).toBeCloseTo(4 * CALL, 12);
    expect(calls(engine.usage({ variant: 'b' }))).toBe(2); // the child run shares its parent's decision
    expect(calls(engine.usage({ tenant: 'nobody' }))).toBe(0);

    const byTenantModel = engine.usageBy(['tenant', 'model']);
    expect(byTenantModel.map((r) => [r.by, r.totals.calls, r.totals.inputTokens])).toEqual([
      [{ tenant: 'acme', model: 'a:big' }, 2, 20],
      [{ tenant: 'globex', model: 'a:big' }, 1, 10],
      [{ tenant: null, model: 'a:big' }, 1, 10],
      [{ tenant: 'acme', model: 'b:small' }, 2, 20],
      [{ tenant: 'globex', model: 'b:small' }, 1, 10],
      [{ tenant: null, model: 'b:small' }, 1, 10],
    ]);
    const byNode = engine.usageBy(['topology', 'node'], { tenant: 'acme', variant: 'a' });
    expect(byNode.map((r) => [r.by, r.totals.calls])).toEqual([
      [{ topology: 'parent', node: 'answer' }, 1],
      [{ topology: 'child', node: 'inner' }, 1],
    ]);
    const total = engine.usageBy(['user']).reduce((s, r) => s + r.totals.calls, 0);
    expect(total).toBe(8);
  });

  it('invalid filters and dims throw OPTIONS_INVALID naming the field', () => {
    const { engine } = setup();
    const issueOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return isValidationError(e) ? `${e.code} ${e.issues.map((i) => i.path.join('.')).join(',')}` : String(e);
      }
      return undefined;
    };
    expect(issueOf(() => engine.usage({ tenantt: 'x' } as never))).toMatch(/^OPTIONS_INVALID .*options/);
    expect(issueOf(() => engine.usage({ user: 7 } as never))).toMatch(/OPTIONS_INVALID .*user/);
    expect(issueOf(() => engine.usageBy(['tenant', 'colour' as never]))).toMatch(/OPTIONS_INVALID .*1/);
    expect(issueOf(() => engine.usageBy([]))).toMatch(/OPTIONS_INVALID/);
    expect(issueOf(() => engine.usageBy(['tenant', 'tenant']))).toMatch(/OPTIONS_INVALID/);
    expect(issueOf(() => engine.usageBy(['tenant'], { model: '' }))).toMatch(/OPTIONS_INVALID .*model/);
  });

  it('beyond maxTuples, new tuples go to the overflow row; engine and tenant totals stay exact', () => {
    const book = new UsageBook(2);
    const u = { inputTokens: 1, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 };
    for (let k = 0; k < 5; k++) {
      const plan = { name: 'p', empty: [], zeros: [], pendingTemplate: [], ids: ['answer'] } as never;
      const run = new Run(`r${k}`, plan, undefined, 0 as never, Infinity, undefined, () => undefined);
      run.tenant = 'acme';
      run.user = `u${k}`;
      book.account(run, 0, 'answer', u, 1, 'a:big');
    }
    expect(book.totals().calls).toBe(5);
    expect(book.totals('acme').calls).toBe(5);
    const rows = book.usageBy(['user']);
    expect(rows.map((r) => [r.by.user, r.totals.calls])).toEqual([[USAGE_OVERFLOW, 3], ['u0', 1], ['u1', 1]]);
  });
});
