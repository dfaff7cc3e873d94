import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import type { Issue } from '../errors.ts';
import type { PolicyUpdateMessage } from '../transports/messages.ts';
import type { PolicyVersion } from './types.ts';
import {
  BanditPolicySchema, CanarySpecSchema, PolicyDocumentSchema, checkPolicyAgainst, parsePolicyDocument, policyFromMessage, policyToMessage,
} from './policy.ts';

const qa = topology('qa', {
  input: z.object({ q: z.string() }),
  experiment: { variants: { control: { weight: 90 }, brief: { weight: 10, nodes: { answer: { system: 'Be brief.' } } } } },
})
  .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q })
  .map('shape', { after: ['answer'], run: ({ deps }) => deps.answer.text })
  .build({ output: 'shape' });

const message = (params: Record<string, string>, over: Partial<PolicyUpdateMessage> = {}): PolicyUpdateMessage => ({
  policyId: 'opt-1', version: 3, target: 'qa', params, reason: 'cheaper', ts: 1000, ...over,
});

const paths = (r: { readonly ok: true } | { readonly ok: false; readonly issues: readonly Issue[] }) =>
  (r.ok ? [] : r.issues).map((i) => [i.code, i.path.join('.')]);

describe('PolicyDocumentSchema', () => {
  it('accepts every field and reads a bandit arm given as a model name as { model }', () => {
    const doc = PolicyDocumentSchema.parse({
      nodes: { answer: { model: ['sim:large', 'sim:default'], temperature: 0.2, maxTokens: 300, system: 'S', prompt: 'P' } },
      variants: { control: 50, brief: 50 },
      bandits: { answer: { arms: { cheap: 'sim:small', best: { model: 'sim:large' } }, metric: 'correct', costWeight: 50, strategy: 'thompson', rewards: 'binary', epsilon: 0.1 } },
      canary: { percent: 5, step: 20, everyRuns: 100, metric: 'correct', test: { minSamples: 30, alpha: 0.01 } },
      regression: [{ metric: 'correct', action: 'pause' }],
      evaluation: { sampleRate: 0.1, nodes: ['answer'] },
      promptVersion: 'v3',
    });
    expect(doc.bandits?.['answer']?.arms).toEqual({ cheap: { model: 'sim:small' }, best: { model: 'sim:large' } });
    expect(PolicyDocumentSchema.parse({})).toEqual({});
  });

  it('names each bad field by its path', () => {
    const bad = (v: unknown) => paths(parsePolicyDocument(v));
    expect(bad({ nodes: { answer: { temperature: 2.5 } } })).toEqual([['too_big', 'nodes.answer.temperature']]);
    expect(bad({ nodes: { answer: { maxTokens: 0 } } })).toEqual([['too_small', 'nodes.answer.maxTokens']]);
    expect(bad({ nodes: { answer: { model: [] } } })[0]![1]).toBe('nodes.answer.model');
    expect(bad({ variants: { b: -1 } })).toEqual([['too_small', 'variants.b']]);
    expect(bad({ evaluation: { sampleRate: 1.5 } })).toEqual([['too_big', 'evaluation.sampleRate']]);
    expect(bad({ canary: { percent: 101, step: 0, everyRuns: 1.5, metric: 'm' } })).toEqual([
      ['too_big', 'canary.percent'], ['too_small', 'canary.step'], ['invalid_type', 'canary.everyRuns'],
    ]);
    expect(bad({ bandits: { answer: { arms: {}, metric: 'm' } } })).toEqual([['custom', 'bandits.answer.arms']]);
    expect(bad({ regression: [{ metric: 'm', action: 'explode' }] })).toEqual([['invalid_value', 'regression.0.action']]);
    expect(bad({ surprise: 1 })).toEqual([['unrecognized_keys', '']]);
    expect(CanarySpecSchema.safeParse({ percent: 0, step: 100, everyRuns: 1, metric: 'm' }).success).toBe(true);
    expect(BanditPolicySchema.safeParse({ arms: { a: '' }, metric: 'm' }).success).toBe(false);
  });
});

describe('policyFromMessage / policyToMessage', () => {
  it('reads each param as one document field of JSON text', () => {
    const r = policyFromMessage(message({
      nodes: '{"answer":{"model":"sim:small","temperature":0.3}}',
      variants: '{"control":1,"brief":1}',
      bandits: '{"answer":{"arms":{"a":"sim:a","b":"sim:b"},"metric":"correct"}}',
      promptVersion: '"v3"',
    }));
    expect(r).toEqual({
      ok: true,
      policy: {
        target: 'qa', version: 3, policyId: 'opt-1', reason: 'cheaper', ts: 1000,
        document: {
          nodes: { answer: { model: 'sim:small', temperature: 0.3 } },
          variants: { control: 1, brief: 1 },
          bandits: { answer: { arms: { a: { model: 'sim:a' }, b: { model: 'sim:b' } }, metric: 'correct' } },
          promptVersion: 'v3',
        },
      },
    });
    expect(policyFromMessage(message({}))).toMatchObject({ ok: true, policy: { document: {} } });
  });

  it('reports unknown params, bad JSON and bad values under params, all at once', () => {
    const r = policyFromMessage(message({
      nodes: '{"answer":{"temperature":9}}',
      colour: '"red"',
      evaluation: '{sampleRate: 0.1}',
      canary: '{"percent":5,"step":10,"everyRuns":10}',
    }));
    expect(paths(r)).toEqual([
      ['unknown_param', 'params.colour'],
      ['invalid_json', 'params.evaluation'],
      ['too_big', 'params.nodes.answer.temperature'],
      ['invalid_type', 'params.canary.metric'],
    ]);
  });

  it('refuses a bad envelope (version, target)', () => {
    expect(paths(policyFromMessage(message({}, { version: 0 })))).toEqual([['too_small', 'version']]);
    expect(paths(policyFromMessage(message({}, { target: '', version: 1.5 })))).toEqual([
      ['invalid_type', 'version'], ['too_small', 'target'],
    ]);
  });

  it('policyToMessage is the inverse', () => {
    const p: PolicyVersion = {
      target: 'qa', version: 7, policyId: 'opt-2', reason: null, ts: 5,
      document: {
        nodes: { answer: { model: ['sim:a', 'sim:b'], maxTokens: 50 } },
        canary: { percent: 5, step: 20, everyRuns: 100, metric: 'correct' },
        regression: [{ metric: 'correct', action: 'breaker', better: 'higher' }],
        evaluation: { sampleRate: 0.5 },
        promptVersion: 'p1',
      },
    };
    const msg = policyToMessage(p);
    expect(Object.keys(msg.params)).toEqual(['nodes', 'canary', 'regression', 'evaluation', 'promptVersion']);
    expect(msg.params['promptVersion']).toBe('"p1"');
    expect(policyFromMessage(msg)).toEqual({ ok: true, policy: p });
  });
});

describe('checkPolicyAgainst', () => {
  it('accepts a document that fits the topology', () => {
    expect(checkPolicyAgainst(qa, {
      nodes: { answer: { model: 'sim:x' } }, bandits: { answer: { arms: { a: { model: 'sim:a' } }, metric: 'm' } },
      variants: { brief: 0 }, evaluation: { sampleRate: 1, nodes: ['answer', 'shape'] },
    })).toEqual([]);
  });

  it('needs llm nodes that exist, variants of the experiment, and evaluated nodes that exist', () => {
    const issues = checkPolicyAgainst(qa, {
      nodes: { nope: { model: 'sim:x' }, shape: { temperature: 1 } },
      bandits: { shape: { arms: { a: { model: 'sim:a' } }, metric: 'm' } },
      variants: { control: 1, long: 1 },
      evaluation: { sampleRate: 1, nodes: ['answer', 'ghost'] },
    });
    expect(issues.map((i) => [i.code, i.path.join('.')])).toEqual([
      ['unknown_node', 'nodes.nope'], ['not_llm_node', 'nodes.shape'], ['not_llm_node', 'bandits.shape'],
      ['unknown_variant', 'variants.long'], ['unknown_node', 'evaluation.nodes.1'],
    ]);
  });

  it('variant weights need an experiment', () => {
    const plain = topology('plain').llm('answer', { model: 'sim:default', prompt: () => 'hi' }).build();
    expect(checkPolicyAgainst(plain, { variants: { a: 1 } }).map((i) => i.code)).toEqual(['no_experiment']);
  });
});
