import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { isValidationError } from '../errors.ts';
import { createPolicyRegistry } from './policy-registry.ts';
import type { PolicyDocument, PolicyOutcome, PolicyVersion } from './types.ts';

const qa = topology('qa', { input: z.object({ q: z.string() }), experiment: { variants: { control: { weight: 1 }, b: { weight: 1 } } } })
  .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q })
  .build({ output: 'answer' });

const pv = (version: number, document: PolicyDocument = { nodes: { answer: { model: `sim:v${version}` } } }, target = 'qa'): PolicyVersion => ({
  target, version, policyId: `opt-${version}`, document, reason: `r${version}`, ts: version,
});
const codes = (r: PolicyOutcome) => (r.ok ? [] : r.issues.map((i) => [i.code, i.path.join('.')]));

describe('createPolicyRegistry', () => {
  it('applies increasing versions; current, history, list', () => {
    const reg = createPolicyRegistry({ topologies: [qa] });
    expect(reg.current('qa')).toBe(undefined);
    expect(reg.apply(pv(1))).toEqual({ ok: true, policy: pv(1), duplicate: false });
    expect(reg.apply(pv(3))).toMatchObject({ ok: true, duplicate: false }); // gaps are fine
    expect(reg.apply(pv(1, {}, 'other'))).toMatchObject({ ok: true }); // targets without a registered topology are not checked
    expect(reg.current('qa')?.version).toBe(3);
    expect(reg.history('qa').map((p) => p.version)).toEqual([1, 3]);
    expect(reg.list().map((p) => [p.target, p.version])).toEqual([['other', 1], ['qa', 3]]);
  });

  it('treats the current version with the same document as a duplicate, and refuses stale or conflicting versions', () => {
    const reg = createPolicyRegistry({ topologies: [qa] });
    reg.apply(pv(2));
    expect(reg.apply({ ...pv(2), reason: 'redelivered', ts: 99 })).toEqual({ ok: true, policy: pv(2), duplicate: true });
    expect(codes(reg.apply(pv(1)))).toEqual([['stale_version', 'version']]);
    expect(codes(reg.apply(pv(2, { promptVersion: 'x' })))).toEqual([['version_conflict', 'version']]);
    expect(reg.history('qa')).toEqual([pv(2)]);
  });

  it('refuses a document that does not fit the registered topology; the current version stays', () => {
    const reg = createPolicyRegistry({ topologies: [qa] });
    reg.apply(pv(1));
    expect(codes(reg.apply(pv(2, { nodes: { ghost: { model: 'sim:x' } }, variants: { c: 1 } })))).toEqual([
      ['unknown_node', 'document.nodes.ghost'], ['unknown_variant', 'document.variants.c'],
    ]);
    expect(reg.current('qa')).toEqual(pv(1));
    const late = createPolicyRegistry();
    late.register(qa);
    expect(codes(late.apply(pv(1, { nodes: { ghost: {} } })))).toEqual([['unknown_node', 'document.nodes.ghost']]);
  });

  it('keeps the last 50 versions per target', () => {
    const reg = createPolicyRegistry();
    for (let v = 1; v <= 60; v++) reg.apply(pv(v));
    const h = reg.history('qa');
    expect(h).toHaveLength(50);
    expect(h[0]!.version).toBe(11);
    expect(h.at(-1)!.version).toBe(60);
    const small = createPolicyRegistry({ historySize: 2 });
    for (let v = 1; v <= 5; v++) small.apply(pv(v));
    expect(small.history('qa').map((p) => p.version)).toEqual([4, 5]);
  });

  it('rolls back as a new version carrying the old document', () => {
    const reg = createPolicyRegistry({ topologies: [qa], now: () => 777 });
    reg.apply(pv(1));
    reg.apply(pv(2));
    reg.apply(pv(3));
    expect(reg.rollback('qa')).toEqual({
      ok: true, duplicate: false,
      policy: { target: 'qa', version: 4, policyId: 'opt-2', document: pv(2).document, reason: 'rollback to v2', ts: 777 },
    });
    expect(reg.rollback('qa', 1)).toMatchObject({ ok: true, policy: { version: 5, document: pv(1).document, reason: 'rollback to v1' } });
    expect(reg.current('qa')?.version).toBe(5);
    expect(reg.rollback('qa', 0)).toMatchObject({ ok: true, policy: { version: 6, document: {}, reason: 'rollback to v0' } });
  });

  it('rolling back the only version returns to the topology’s own definition', () => {
    const reg = createPolicyRegistry({ now: () => 1 });
    reg.apply(pv(4));
    expect(reg.rollback('qa')).toMatchObject({ ok: true, policy: { version: 5, document: {}, policyId: 'opt-4', reason: 'rollback to v0' } });
  });

  it('refuses rollbacks it cannot do', () => {
    const reg = createPolicyRegistry({ historySize: 2 });
    expect(codes(reg.rollback('qa'))).toEqual([['no_policy', 'target']]);
    for (let v = 1; v <= 3; v++) reg.apply(pv(v));
    expect(codes(reg.rollback('qa', 1))).toEqual([['unknown_version', 'toVersion']]); // no longer kept
    expect(codes(reg.rollback('qa', 9))).toEqual([['unknown_version', 'toVersion']]);
    expect(codes(reg.rollback('qa', 3))).toEqual([['already_current', 'toVersion']]);
    expect(reg.current('qa')?.version).toBe(3);
  });

  it('validates its options', () => {
    let error: unknown;
    try { createPolicyRegistry({ historySize: 0 }); } catch (e) { error = e; }
    expect(isValidationError(error) && error.issues.map((i) => i.path.join('.'))).toEqual(['options.historySize']);
  });
});
