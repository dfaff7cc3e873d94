/**
 * Hot reload: whole rule sets swap atomically under load (every call's outcome is exactly one
 * version's), an invalid document leaves the rules in force, and governance updates from the
 * policies topic apply in version order.
 */
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { createEngine, createModels, isValidationError, topology, type CompletionRequest } from '../../index.ts';
import type { PolicyUpdateMessage } from '../../transports/messages.ts';
import { scriptedProvider } from '../../testing/index.ts';
import { createPolicyGuard, type PolicyDecision } from './guard.ts';
import type { PolicyDocumentInput } from './schema.ts';
import { applyGovernanceUpdate } from './update.ts';

const recording = (name: string) => scriptedProvider(name, [{ text: 'ok', usage: { inputTokens: 10, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 } }]);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('hot reload under load', () => {
  it('2,000 concurrent calls while 50 documents alternate two rule sets: every call is exactly one version', async () => {
    // a TypeScript rule that yields between the two halves of each set: a swap in flight would mix them
    let swappedInFlight = 0;
    const pause = {
      name: 'pause',
      check: async (): Promise<undefined> => {
        const before = guard.version;
        await turn();
        await turn();
        if (guard.version !== before) swappedInFlight++;
        return undefined;
      },
    };
    const even = (): PolicyDocumentInput => ({ rules: [{ name: 'cap-a', action: 'cap', cap: { maxTokens: 5 } }, pause, { name: 'route-a', action: 'route', route: { model: 'b:small' } }] });
    const odd = (): PolicyDocumentInput => ({ rules: [{ name: 'cap-b', action: 'cap', cap: { maxTokens: 9 } }, pause, { name: 'mask-b', action: 'redact', redact: { mode: 'mask', kinds: ['email'] } }] });
    const guard = createPolicyGuard({ document: even(), version: 0 });
    const N = 2_000;
    const version = new Map<string, number>();
    guard.decisions$.subscribe((d: PolicyDecision) => {
      if (d.stage === 'call') version.set(d.runId, d.version);
    });
    const a = recording('a');
    const b = recording('b');
    const engine = createEngine({ models: createModels({ providers: [a, b] }), guard });
    const t = topology('load', { input: z.object({ id: z.string() }), maxInFlight: 4096 })
      .llm('answer', { model: 'a:big', prompt: ({ input }) => `${input.id} mail ana@example.com`, maxTokens: 50 })
      .build({ output: 'answer' });
    const runs: Promise<{ status: string }>[] = [];
    // waves of 40 runs; each swap lands while the wave before is in the middle of its checks
    for (let v = 1; v <= 50; v++) {
      for (let k = 0; k < N / 50; k++) {
        const i = runs.length;
        runs.push(engine.run(t, { id: `run-${i}` }, { runId: `run-${i}` }));
      }
      await turn();
      expect(guard.apply(v % 2 === 0 ? even() : odd(), { version: v })).toBe(v);
    }
    const results = await Promise.all(runs);
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(a.requests.length + b.requests.length).toBe(N);
    const seen = new Set<number>();
    const check = (req: CompletionRequest, provider: 'a' | 'b'): void => {
      const content = req.messages[0]!.content;
      const id = content.split(' ')[0]!;
      const v = version.get(id);
      expect(v, id).toBeDefined();
      seen.add(v!);
      const outcome = { provider, maxTokens: req.maxTokens, masked: content.endsWith('****') };
      expect(outcome, `${id} on v${v}`).toEqual(v! % 2 === 0 ? { provider: 'b', maxTokens: 5, masked: false } : { provider: 'a', maxTokens: 9, masked: true });
    };
    for (const req of a.requests) check(req, 'a');
    for (const req of b.requests) check(req, 'b');
    // the load really spanned many versions
    expect(seen.size).toBeGreaterThan(10);
    expect(swappedInFlight).toBeGreaterThan(0);
    expect(guard.stats()).toMatchObject({ version: 50, reloads: 50, checks: { call: N } });
  });

  it('an invalid document throws and the rules in force stay', () => {
    const guard = createPolicyGuard({ document: { version: 3, rules: [{ name: 'deny-all', action: 'deny' }] } });
    expect(() => guard.apply({ rules: [{ name: 'oops', action: 'route' }] })).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', issues: [expect.objectContaining({ path: ['rules', 0, 'route'] })] }));
    expect(guard.version).toBe(3);
    expect(guard.stats()).toMatchObject({ rules: 1, reloads: 0 });
    expect(guard.apply('rules: []')).toBe(4);
  });
});

describe('applyGovernanceUpdate', () => {
  const msg = (version: number, document: unknown, target = 'governance'): PolicyUpdateMessage => ({
    policyId: 'gov', version, target, params: document === undefined ? {} : { document: JSON.stringify(document) }, reason: null, ts: 0,
  });

  it('applies newer versions, ignores duplicates, stale versions and other targets, and says so', () => {
    const guard = createPolicyGuard();
    expect(applyGovernanceUpdate(guard, msg(2, { tenants: { acme: { weight: 4 } }, rules: [] }))).toEqual({ applied: true, version: 2 });
    expect(guard.weight('acme')).toBe(4);
    expect(applyGovernanceUpdate(guard, msg(2, { rules: [] }))).toEqual({ applied: false, reason: 'duplicate', version: 2, current: 2 });
    expect(applyGovernanceUpdate(guard, msg(1, { rules: [] }))).toEqual({ applied: false, reason: 'stale', version: 1, current: 2 });
    expect(applyGovernanceUpdate(guard, msg(9, { rules: [] }, 'rag'))).toEqual({ applied: false, reason: 'other_target', version: 9, current: 2 });
    // a YAML text inside the JSON string
    expect(applyGovernanceUpdate(guard, msg(3, 'tenants: { acme: { weight: 2 } }\nrules: []'))).toEqual({ applied: true, version: 3 });
    expect(guard.weight('acme')).toBe(2);
  });

  it('an invalid update throws a ValidationError (dead-lettered) and changes nothing', () => {
    const guard = createPolicyGuard({ document: { version: 1, rules: [{ name: 'cap', action: 'cap', cap: { maxTokens: 5 } }] } });
    const errorOf = (m: PolicyUpdateMessage): unknown => {
      try {
        applyGovernanceUpdate(guard, m);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const missing = errorOf(msg(2, undefined));
    expect(isValidationError(missing) && missing.issues[0]!.path).toEqual(['params', 'document']);
    const bad = errorOf(msg(2, { rules: [{ name: 'x', action: 'deny', match: { model: 7 } }] }));
    expect(isValidationError(bad) && bad.code === 'POLICY_INVALID' && bad.issues[0]!.path.join('.')).toBe('rules.0.match.model');
    const notJson = errorOf({ ...msg(2, {}), params: { document: '{ nope' } });
    expect(isValidationError(notJson) && notJson.code).toBe('POLICY_UPDATE_INVALID');
    expect(guard.version).toBe(1);
    expect(guard.stats().rules).toBe(1);
  });
});
