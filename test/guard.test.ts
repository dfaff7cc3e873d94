/**
 * The engine's guard seam (`createEngine({ guard })`): run checks before admission, call checks
 * before each model call (deny, rewrite, route, approval), watches that cut a stream and check
 * its output, fail-closed guards, several guards in order, decisions on the bus, and nothing
 * asked without a guard.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createMemoryStore } from '../src/stores/memory.ts';
import { scriptedProvider } from '../src/testing/index.ts';
import {
  PolicyError, createEngine, createModels, defineTool, isPolicyError, isValidationError, topology,
  type CallCheck, type EngineEvent, type Guard, type PolicyDecisionEvent, type RunCheck,
} from '../src/index.ts';

/** A provider that records each request and streams `words`, then its usage (10 in, one out per word) and finish. */
const recording = (name: string, words: readonly string[]) =>
  scriptedProvider(name, [{ text: words.join(''), usage: { inputTokens: 10, outputTokens: words.length, cachedTokens: 0, reasoningTokens: 0 } }]);

const WORDS = Array.from({ length: 20 }, (_, k) => ` w${k}`);

function setup(guard: Guard | Guard[] | undefined, words: readonly string[] = WORDS) {
  const a = recording('a', words);
  const b = recording('b', [' cheap']);
  const models = createModels({ providers: [a, b], prices: { 'a:big': { input: 1000, output: 1000 }, 'b:small': { input: 1, output: 1 } } });
  const engine = createEngine(guard === undefined ? { models } : { models, guard });
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  const t = topology('guarded')
    .llm('answer', { model: 'a:big', prompt: ({ input }) => String((input as { q: string }).q), maxTokens: 50 })
    .build({ output: 'answer' });
  const decisions = (): PolicyDecisionEvent[] => events.filter((e): e is PolicyDecisionEvent => e.type === 'policy.decision');
  return { engine, a, b, t, events, decisions };
}

const deny = (rule: string): PolicyError => new PolicyError('POLICY_DENIED', `denied by ${rule}`, { rule });

describe('run checks', () => {
  it('a denied run fails with the rule named, before any node runs', async () => {
    const checks: RunCheck[] = [];
    const { engine, a, t, decisions } = setup({ run: (c) => (checks.push(c), { action: 'deny', rule: 'no-free', error: deny('no-free') }) });
    const r = await engine.run(t, { q: 'hi' }, { tenant: 'free', user: 'u1', project: 'p1' });
    expect(r.status).toBe('failed');
    expect(isPolicyError(r.error) && r.error.code === 'POLICY_DENIED' && r.error.rule === 'no-free').toBe(true);
    expect(a.requests).toHaveLength(0);
    expect(checks[0]).toMatchObject({ topology: 'guarded', tenant: 'free', user: 'u1', project: 'p1', input: { q: 'hi' } });
    expect(decisions()).toMatchObject([{ stage: 'run', action: 'deny', rule: 'no-free', tenant: 'free' }]);
  });

  it('an async allow admits the run and hears how it ended', async () => {
    const ended: string[] = [];
    const { engine, a, t } = setup({ run: async () => ({ action: 'allow', ended: (s) => ended.push(s) }) });
    const r = await engine.run(t, { q: 'hi' });
    expect(r.status).toBe('completed');
    expect(a.requests).toHaveLength(1);
    expect(ended).toEqual(['completed']);
  });

  it('a guard that throws or rejects refuses the run (fail-closed)', async () => {
    for (const guard of [{ name: 'broken', run: () => { throw new Error('rules unreadable'); } }, { name: 'broken', run: () => Promise.reject(new Error('db down')) }] as Guard[]) {
      const { engine, t, a } = setup(guard);
      const r = await engine.run(t, { q: 'hi' });
      expect(r.status).toBe('failed');
      expect(isPolicyError(r.error) && r.error.code === 'POLICY_FAILED' && r.error.rule === 'broken').toBe(true);
      expect(a.requests).toHaveLength(0);
    }
  });

  it('a nonsense verdict refuses the run', async () => {
    const { engine, t } = setup({ run: () => ({ action: 'maybe' }) as never });
    const r = await engine.run(t, { q: 'hi' });
    expect(r.error?.code).toBe('POLICY_FAILED');
  });

  it('a run a later guard refuses is told to the earlier one as refused (it never ran)', async () => {
    const ended: string[] = [];
    const { engine, t } = setup([{ run: () => ({ action: 'allow', ended: (s) => ended.push(s) }) }, { run: () => ({ action: 'deny', rule: 'second', error: deny('second') }) }]);
    expect((await engine.run(t, { q: 'hi' })).error?.code).toBe('POLICY_DENIED');
    expect(ended).toEqual(['refused']);
  });

  it('a run cancelled while the guard decides frees what the guard reserved', async () => {
    const ended: string[] = [];
    let allow!: () => void;
    const { engine, t, a } = setup({ run: () => new Promise((resolve) => { allow = () => resolve({ action: 'allow', ended: (s) => ended.push(s) }); }) });
    const ctl = new AbortController();
    const p = engine.run(t, { q: 'hi' }, { signal: ctl.signal });
    ctl.abort();
    allow();
    expect((await p).status).toBe('cancelled');
    await Promise.resolve();
    expect(ended).toEqual(['refused']);
    expect(a.requests).toHaveLength(0);
  });
});

describe('call checks', () => {
  it('the check carries the subject, the request and a priced estimate; a denied call fails the node unretried', async () => {
    const checks: CallCheck[] = [];
    const { engine, a, t, decisions } = setup({ call: (c) => (checks.push(c), { action: 'deny', rule: 'no-big', error: deny('no-big') }) });
    const r = await engine.run(t, { q: 'hello there' }, { tenant: 'acme' });
    expect(r.status).toBe('failed');
    expect(r.error?.cause).toMatchObject({ code: 'POLICY_DENIED' });
    expect(a.requests).toHaveLength(0);
    expect(checks).toHaveLength(1);
    const c = checks[0]!;
    expect(c).toMatchObject({ topology: 'guarded', tenant: 'acme', nodeId: 'answer', model: 'a:big', provider: 'a', attempt: 1 });
    expect(c.estimate.outputTokens).toBe(50);
    expect(c.estimate.costUsd).toBeCloseTo(((c.estimate.inputTokens + 50) * 1000) / 1e6);
    expect(c.estimateOn?.('b:small', c.request)?.costUsd).toBeCloseTo(((c.estimate.inputTokens + 50) * 1) / 1e6);
    expect(decisions()).toMatchObject([{ stage: 'call', action: 'deny', rule: 'no-big', nodeId: 'answer', model: 'a:big' }]);
  });

  it('a rewritten request is what the provider gets; a routed call goes to the other model', async () => {
    const { engine, a, b, t, decisions } = setup([
      { call: (c) => ({ action: 'allow', rule: 'redact', request: { ...c.request, messages: [{ role: 'user', content: '[EMAIL_1]' }], maxTokens: 10 } }) },
      { call: (c) => ({ action: 'allow', rule: 'cheap', model: c.request.maxTokens === 10 ? 'b:small' : undefined }) },
    ]);
    const r = await engine.run(t, { q: 'mail ana@example.com' });
    expect(r.status).toBe('completed');
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toEqual([{ model: 'small', messages: [{ role: 'user', content: '[EMAIL_1]' }], maxTokens: 10 }]);
    expect((r.outputs as { answer: { model: string } }).answer.model).toBe('b:small');
    expect(decisions()).toMatchObject([{ stage: 'call', action: 'allow', rule: 'redact', routedTo: 'b:small', requestChanged: true }]);
  });

  it('an approval waits for the signal and asks again with it; a refusal denies the call', async () => {
    for (const approved of [true, false]) {
      const seen: (Readonly<Record<string, unknown>> | undefined)[] = [];
      const { engine, a, t, decisions } = setup({
        call: (c) => (seen.push(c.approved), c.approved?.['big-spend'] === undefined ? { action: 'approval', rule: 'big-spend', wait: { name: 'approve-spend' } } : { action: 'allow' }),
      });
      const p = engine.run(t, { q: 'hi' }, { runId: `appr-${approved}` });
      await new Promise((r) => setTimeout(r, 10));
      expect(a.requests).toHaveLength(0);
      await engine.signal(`appr-${approved}`, 'approve-spend', { approved, by: 'ana' });
      const r = await p;
      expect(decisions()[0]).toMatchObject({ stage: 'call', action: 'approval', rule: 'big-spend' });
      if (approved) {
        expect(r.status).toBe('completed');
        expect(seen).toEqual([undefined, { 'big-spend': { approved: true, by: 'ana' } }]);
        expect(a.requests).toHaveLength(1);
      } else {
        expect(r.status).toBe('failed');
        expect(r.error?.cause).toMatchObject({ code: 'POLICY_DENIED', message: expect.stringContaining('not approved by ana') });
        expect(a.requests).toHaveLength(0);
      }
    }
  });

  it('a durable run waiting for an approval is parked in the store and resumes in another engine on the signal', async () => {
    const store = createMemoryStore();
    const a = recording('a', [' ok']);
    const models = createModels({ providers: [a] });
    const guard: Guard = {
      call: (c) => (c.approved?.['big-spend'] === undefined ? { action: 'approval', rule: 'big-spend', wait: { name: 'approve-spend' } } : { action: 'allow', rule: 'big-spend' }),
    };
    const t = topology('approve-call').llm('answer', { model: 'a:big', prompt: () => 'spend' }).build({ output: 'answer' });
    const e1 = createEngine({ models, store, topologies: [t], guard });
    const parked = await e1.run(t, undefined, { runId: 'ap1' });
    expect(parked.status).toBe('waiting');
    expect(a.requests).toHaveLength(0);
    await e1.shutdown();
    const e2 = createEngine({ models, store, topologies: [t], guard });
    const receipt = await e2.signal('ap1', 'approve-spend', { approved: true, by: 'ana' });
    const done = await receipt.result!;
    expect(done.status).toBe('completed');
    expect(a.requests).toHaveLength(1);
    await e2.shutdown();
  });

  it('a watch cuts the stream when it says so: BUDGET_EXCEEDED with the partial text, billed as far as it streamed', async () => {
    const used: unknown[] = [];
    const { engine, t } = setup({
      call: () => ({
        action: 'allow',
        watch: {
          streamed: (tokens) => (tokens >= 5 ? new PolicyError('BUDGET_EXCEEDED', 'budget ran out', { rule: 'acme-daily' }) : undefined),
          ended: (u) => used.push(u),
        },
      }),
    });
    const r = await engine.run(t, { q: 'hi' }, { tenant: 'acme' });
    expect(r.status).toBe('failed');
    const cause = r.error?.cause as PolicyError;
    expect(cause.code).toBe('BUDGET_EXCEEDED');
    // cut at the chunk that reached 5 counted tokens: a prefix of the answer, streamed to consumers, kept in the error
    expect(cause.partial).toMatch(/^ w0 w1/);
    expect(WORDS.join('').startsWith(cause.partial!) && cause.partial!.length < WORDS.join('').length).toBe(true);
    expect(used).toHaveLength(1);
    expect((used[0] as { usage: { outputTokens: number } }).usage.outputTokens).toBeGreaterThanOrEqual(5);
    expect(engine.usage('acme').calls).toBe(1);
  });

  it('an output check may redact the answer or refuse it', async () => {
    const redacting = setup({ call: () => ({ action: 'allow', watch: { output: (text) => ({ action: 'redact', rule: 'pii-out', text: text.toUpperCase() }) } }) }, [' ana@x.io']);
    const r1 = await redacting.engine.run(redacting.t, { q: 'hi' });
    expect((r1.outputs as { answer: { text: string } }).answer.text).toBe(' ANA@X.IO');
    expect(redacting.decisions()).toMatchObject([{ stage: 'output', action: 'redact', rule: 'pii-out' }]);
    const refusing = setup({ call: () => ({ action: 'allow', watch: { output: async () => ({ action: 'deny', rule: 'toxic', error: deny('toxic') }) } }) });
    const r2 = await refusing.engine.run(refusing.t, { q: 'hi' });
    expect(r2.error?.cause).toMatchObject({ code: 'POLICY_DENIED' });
  });

  it('the estimate is priced only when a guard reads it, and again for a request an earlier guard changed', async () => {
    let counted = 0;
    const a = recording('a', [' ok']);
    const models = createModels({ providers: [a], prices: { 'a:big': { input: 1000, output: 1000 } }, countTokens: (text) => (counted++, text.length) });
    const seen: number[] = [];
    const t = topology('lazy').llm('answer', { model: 'a:big', prompt: () => 'x'.repeat(40), maxTokens: 50 }).build({ output: 'answer' });
    const blind = createEngine({ models, guard: { call: () => ({ action: 'allow', rule: 'blind' }) } });
    await blind.run(t, undefined);
    const beforeReading = counted;
    const engine = createEngine({
      models,
      guard: [
        { call: (c) => (seen.push(c.estimate.outputTokens), { action: 'allow', request: { ...c.request, maxTokens: 5 } }) },
        { call: (c) => (seen.push(c.estimate.outputTokens), { action: 'allow' }) },
      ],
    });
    await engine.run(t, undefined);
    expect(seen).toEqual([50, 5]);
    // the blind guard's run counted only the answer's tokens (usage is given by the provider): no prompt tokenized for an estimate
    expect(beforeReading).toBe(0);
  });

  it('a later guard refusing releases what an earlier one reserved', async () => {
    const ended: unknown[] = [];
    const { engine, t } = setup([
      { call: () => ({ action: 'allow', watch: { ended: (u) => ended.push(u ?? 'released') } }) },
      { call: () => ({ action: 'deny', rule: 'second', error: deny('second') }) },
    ]);
    await engine.run(t, { q: 'hi' });
    expect(ended).toEqual(['released']);
  });

  it('a call guard that throws refuses the call', async () => {
    const { engine, t, a } = setup({ name: 'rules', call: () => { throw new Error('bad regex'); } });
    const r = await engine.run(t, { q: 'hi' });
    expect(r.error?.cause).toMatchObject({ code: 'POLICY_FAILED', message: expect.stringContaining('bad regex') });
    expect(a.requests).toHaveLength(0);
  });
});

describe('tool checks', () => {
  const crm = defineTool({ name: 'crm.search', input: z.object({ email: z.string() }), run: ({ email }) => `found ${email}` });
  const support = topology('support', { input: z.object({ email: z.string() }) })
    .tool('lookup', { tool: crm, args: ({ input }) => ({ email: input.email }) })
    .build({ output: 'lookup' });

  it('the tool gets the arguments a guard rewrote; a refusal fails the node', async () => {
    const seen: unknown[] = [];
    const engine = createEngine({ guard: { tool: (c) => (seen.push(c), { action: 'allow', rule: 'pii-tools', args: { email: '[EMAIL_1]' } }) } });
    const events: EngineEvent[] = [];
    engine.events$.subscribe((e) => events.push(e));
    const r = await engine.run(support, { email: 'ana@example.com' }, { tenant: 'acme' });
    expect(r.output).toBe('found [EMAIL_1]');
    expect(seen[0]).toMatchObject({ topology: 'support', tenant: 'acme', nodeId: 'lookup', tool: 'crm.search', args: { email: 'ana@example.com' } });
    expect(events.find((e) => e.type === 'policy.decision')).toMatchObject({ stage: 'tool', action: 'allow', rule: 'pii-tools', tool: 'crm.search', requestChanged: true });
    const denying = createEngine({ guard: { tool: async () => ({ action: 'deny', rule: 'no-crm', error: deny('no-crm') }) } });
    const d = await denying.run(support, { email: 'a@b.co' });
    expect(d.error?.cause).toMatchObject({ code: 'POLICY_DENIED' });
  });

  it('rewritten arguments that no longer fit the tool schema fail the node naming the rule', async () => {
    const engine = createEngine({ guard: { tool: () => ({ action: 'allow', rule: 'bad-rewrite', args: { email: 42 } }) } });
    const r = await engine.run(support, { email: 'a@b.co' });
    const cause = r.error?.cause;
    expect(isValidationError(cause) && cause.code === 'TOOL_INPUT_INVALID' && cause.issues[0]?.path[1] === 'bad-rewrite').toBe(true);
  });
});

describe('without guards', () => {
  it('nothing is asked and no decision is emitted', async () => {
    const { engine, t, decisions, a } = setup(undefined);
    expect((await engine.run(t, { q: 'hi' })).status).toBe('completed');
    expect(decisions()).toEqual([]);
    expect(a.requests).toHaveLength(1);
  });

  it('createEngine refuses a guard that is not one, naming the field', () => {
    expect(() => createEngine({ guard: { call: 'yes' } as never })).toThrow(/guard/);
  });
});
