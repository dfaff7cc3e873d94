/**
 * The policy guard end to end through a real engine (a recording provider sees what the rules
 * let through): deny naming the rule, redaction (mask, placeholder restored in the answer and
 * dropped with the run), route, cap, approval, output rules, run rules, matching, TypeScript
 * rules, fail-closed and fail-open, weights.
 */
import { describe, expect, it } from 'vitest';
import {
  createEngine, createModels, isPolicyError, topology,
  type CallCheck, type CompletionRequest, type EngineEvent, type PolicyDecisionEvent,
} from '../../index.ts';
import type { PiiDetector } from '../pii/types.ts';
import type { OutputSubject } from './schema.ts';
import { scriptedProvider } from '../../testing/index.ts';
import { createPolicyGuard, type PolicyDecision, type PolicyGuard, type PolicyGuardOptions, type PolicyRuleFailure } from './guard.ts';

/** A provider that records each request and answers `reply(request)` word by word. */
const recording = (name: string, reply: (req: CompletionRequest) => string) =>
  scriptedProvider(name, (req) => ({ text: reply(req), usage: { inputTokens: 10, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 } }));

const lastUser = (req: CompletionRequest): string => req.messages.at(-1)?.content ?? '';

function setup(options: PolicyGuardOptions | PolicyGuard, reply: (req: CompletionRequest) => string = (req) => `echo: ${lastUser(req)}`) {
  const guard = 'call' in options ? options as PolicyGuard : createPolicyGuard(options);
  const a = recording('a', reply);
  const b = recording('b', () => 'cheap answer');
  const models = createModels({ providers: [a, b], prices: { 'a:big': { input: 1000, output: 1000 }, 'b:small': { input: 1, output: 1 } } });
  const engine = createEngine({ models, guard });
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  const t = topology('support')
    .llm('answer', { model: 'a:big', prompt: ({ input }) => String((input as { q: string }).q), maxTokens: 50 })
    .build({ output: 'answer' });
  const text = (r: { outputs: unknown }): string => (r.outputs as { answer: { text: string } }).answer.text;
  const decisions = (): PolicyDecisionEvent[] => events.filter((e): e is PolicyDecisionEvent => e.type === 'policy.decision');
  return { guard, engine, a, b, t, text, decisions };
}

const EMAIL = 'ana.lima@example.com';

describe('actions through the engine', () => {
  it('deny fails the call with POLICY_DENIED naming the rule; the provider is never called', async () => {
    const { engine, a, t, decisions } = setup({ document: { rules: [{ name: 'free-no-big', match: { tenant: 'free*', model: 'a:*' }, action: 'deny', message: 'big models are not on the free tier' }] } });
    const r = await engine.run(t, { q: 'hi' }, { tenant: 'free-eu' });
    expect(r.status).toBe('failed');
    const cause = r.error?.cause;
    expect(isPolicyError(cause) && cause.code === 'POLICY_DENIED' && cause.rule === 'free-no-big').toBe(true);
    expect((cause as Error).message).toBe("big models are not on the free tier (rule 'free-no-big')");
    expect(a.requests).toHaveLength(0);
    expect(decisions()).toMatchObject([{ stage: 'call', action: 'deny', rule: 'free-no-big' }]);
    // another tenant is not matched
    expect((await engine.run(t, { q: 'hi' }, { tenant: 'paid' })).status).toBe('completed');
  });

  it('a default deny message names the node and model', async () => {
    const { engine, t } = setup({ document: { rules: [{ name: 'nope', action: 'deny' }] } });
    const r = await engine.run(t, { q: 'hi' });
    expect((r.error?.cause as Error).message).toBe("the call of node 'answer' to a:big is not allowed (rule 'nope')");
  });

  it('redact (mask) rewrites the prompt the provider sees', async () => {
    const { engine, a, t, text } = setup({ document: 'rules: [{ name: pii, action: redact, redact: { mode: mask, kinds: [email, credit_card] } }]' });
    const r = await engine.run(t, { q: `mail ${EMAIL}, card 4111 1111 1111 1111, call +1 (415) 555-2671` });
    expect(r.status).toBe('completed');
    expect(lastUser(a.requests[0]!)).toBe('mail ****, card ****, call +1 (415) 555-2671');
    expect(text(r)).toBe('echo: mail ****, card ****, call +1 (415) 555-2671');
  });

  it('redact (placeholder): the provider sees placeholders, the answer gets the values back, the vault ends with the run', async () => {
    const guard = createPolicyGuard({ document: { rules: [{ name: 'pii', action: 'redact', redact: { mode: 'placeholder' } }] } });
    const seen: number[] = [];
    const { engine, a, t, text, decisions } = setup(guard, (req) => {
      seen.push(guard.stats().vaults);
      return `Sent to ${lastUser(req).replace('write to ', '')}.`;
    });
    const r = await engine.run(t, { q: `write to ${EMAIL}` });
    expect(lastUser(a.requests[0]!)).toBe('write to [EMAIL_1]');
    expect(text(r)).toBe(`Sent to ${EMAIL}.`);
    expect(decisions().map((d) => [d.stage, d.action, d.rule])).toEqual([['call', 'allow', 'pii'], ['output', 'redact', 'pii']]);
    expect(seen).toEqual([1]);
    expect(guard.stats().vaults).toBe(0);
  });

  it('placeholders are the same within a run and not restorable in another run', async () => {
    const guard = createPolicyGuard({ document: { rules: [{ name: 'pii', action: 'redact', redact: { mode: 'placeholder', kinds: ['email'] } }] } });
    const two = topology('two')
      .llm('first', { model: 'a:big', prompt: ({ input }) => String((input as { q: string }).q) })
      .llm('second', { after: ['first'], model: 'a:big', prompt: ({ deps }) => `again ${deps.first.text}` })
      .build({ output: 'second' });
    const { engine, a } = setup(guard, (req) => lastUser(req));
    const r = await engine.run(two, { q: `to ${EMAIL} and bo@example.org` });
    expect(a.requests.map(lastUser)).toEqual(['to [EMAIL_1] and [EMAIL_2]', 'again to [EMAIL_1] and [EMAIL_2]']);
    expect((r.outputs as { second: { text: string } }).second.text).toBe(`again to ${EMAIL} and bo@example.org`);
    // a placeholder of that run is plain text in another
    const other = setup(guard, () => 'for [EMAIL_1]');
    const r2 = await other.engine.run(other.t, { q: 'nothing to find' });
    expect(other.text(r2)).toBe('for [EMAIL_1]');
  });

  it('route sends the call to another model; cap lowers maxTokens and keeps the smaller', async () => {
    const { engine, a, b, t } = setup({
      document: {
        rules: [
          { name: 'cap-10', match: { project: 'tight' }, action: 'cap', cap: { maxTokens: 10 } },
          { name: 'cap-100', action: 'cap', cap: { maxTokens: 100 } },
          { name: 'cheap', match: { user: 'intern-*' }, action: 'route', route: { model: 'b:small' } },
        ],
      },
    });
    await engine.run(t, { q: 'hi' }, { project: 'tight' });
    expect(a.requests[0]!.maxTokens).toBe(10);
    await engine.run(t, { q: 'hi' }, { project: 'loose' });
    expect(a.requests[1]!.maxTokens).toBe(50);
    const r = await engine.run(t, { q: 'hi' }, { user: 'intern-3' });
    expect(b.requests).toEqual([{ model: 'small', messages: [{ role: 'user', content: 'hi' }], maxTokens: 50 }]);
    expect((r.outputs as { answer: { model: string } }).answer.model).toBe('b:small');
  });

  it('approval waits for engine.signal; an approved call skips the rule and goes on with the rest', async () => {
    for (const approved of [true, false]) {
      const { engine, a, t } = setup({
        document: {
          rules: [
            { name: 'big-spend', match: { model: 'a:big' }, action: 'approval', approval: { name: 'approve-big' } },
            { name: 'cap', action: 'cap', cap: { maxTokens: 20 } },
          ],
        },
      });
      const p = engine.run(t, { q: 'hi' }, { runId: `appr-${approved}` });
      await new Promise((r) => setTimeout(r, 10));
      expect(a.requests).toHaveLength(0);
      await engine.signal(`appr-${approved}`, 'approve-big', { approved, by: 'ana' });
      const r = await p;
      if (approved) {
        expect(r.status).toBe('completed');
        expect(a.requests.map((q) => q.maxTokens)).toEqual([20]);
      } else {
        expect(r.error?.cause).toMatchObject({ code: 'POLICY_DENIED', rule: 'big-spend' });
        expect(a.requests).toHaveLength(0);
      }
    }
  });

  it('output rules redact or refuse what the answer holds', async () => {
    const redacting = setup({ document: { rules: [{ name: 'no-mail-out', stage: 'output', match: { dataClass: 'email' }, action: 'redact', redact: { mode: 'mask' } }] } }, () => `reach me at ${EMAIL}`);
    const r1 = await redacting.engine.run(redacting.t, { q: 'hi' });
    expect(redacting.text(r1)).toBe('reach me at ****');
    expect(redacting.decisions()).toMatchObject([{ stage: 'output', action: 'redact', rule: 'no-mail-out' }]);
    const refusing = setup({ document: { rules: [{ name: 'no-keys-out', stage: 'output', match: { dataClass: ['api_key', 'credit_card'] }, action: 'deny' }] } }, () => 'card 4111 1111 1111 1111');
    const r2 = await refusing.engine.run(refusing.t, { q: 'hi' });
    expect(r2.error?.cause).toMatchObject({ code: 'POLICY_DENIED', rule: 'no-keys-out' });
    const fine = setup({ document: { rules: [{ name: 'no-keys-out', stage: 'output', match: { dataClass: ['api_key'] }, action: 'deny' }] } }, () => 'nothing secret');
    expect((await fine.engine.run(fine.t, { q: 'hi' })).status).toBe('completed');
  });

  it('run rules see the subject and the input: deny on a data class, an allow placed before as an exception', async () => {
    const { engine, a, t } = setup({
      document: {
        rules: [
          { name: 'ops-may', stage: 'run', match: { user: 'ops-*' }, action: 'allow' },
          { name: 'no-cards-in', stage: 'run', match: { topology: 'supp*', dataClass: 'credit_card' }, action: 'deny', message: 'no card numbers' },
        ],
      },
    });
    const denied = await engine.run(t, { q: 'card 4111 1111 1111 1111' }, { user: 'u1' });
    expect(denied.error).toMatchObject({ code: 'POLICY_DENIED', rule: 'no-cards-in', message: "no card numbers (rule 'no-cards-in')" });
    expect(a.requests).toHaveLength(0);
    expect((await engine.run(t, { q: 'card 4111 1111 1111 1111' }, { user: 'ops-1' })).status).toBe('completed');
    expect((await engine.run(t, { q: 'card 4111 1111 1111 1112' }, { user: 'u1' })).status).toBe('completed');
  });
});

/** A call check as the engine builds it. */
function callCheck(over: Partial<CallCheck> = {}): CallCheck {
  return {
    runId: 'r1', topology: 'rag', tenant: 'acme', user: 'u1', project: 'search', nodeId: 'answer', model: 'openai:gpt-4o', provider: 'openai',
    request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], maxTokens: 100 }, attempt: 1,
    estimate: { inputTokens: 3, outputTokens: 100, costUsd: 0.001 }, estimateOn: () => undefined, ...over,
  };
}
const ruleOf = (v: unknown): string | undefined => (v as { rule?: string }).rule;

describe('matching', () => {
  it('each subject field, with globs and lists', () => {
    const g = createPolicyGuard({
      document: {
        rules: [
          { name: 'tenant', match: { tenant: ['globex', 'init*'] }, action: 'deny' },
          { name: 'user', match: { user: '*@contractor.io' }, action: 'deny' },
          { name: 'project', match: { project: 'secret-*' }, action: 'deny' },
          { name: 'topology', match: { topology: 'legacy-*' }, action: 'deny' },
          { name: 'node', match: { node: ['classify', 'judge'] }, action: 'deny' },
          { name: 'model', match: { model: 'openai:o3*' }, action: 'deny' },
          { name: 'both', match: { tenant: 'acme', node: 'summar*' }, action: 'deny' },
        ],
      },
    });
    const decide = (over: Partial<CallCheck>): string | undefined => ruleOf(g.call(callCheck(over)));
    expect(decide({})).toBeUndefined();
    expect(decide({ tenant: 'initech' })).toBe('tenant');
    expect(decide({ user: 'bo@contractor.io' })).toBe('user');
    expect(decide({ project: 'secret-x' })).toBe('project');
    expect(decide({ topology: 'legacy-rag' })).toBe('topology');
    expect(decide({ nodeId: 'judge' })).toBe('node');
    expect(decide({ model: 'openai:o3-mini' })).toBe('model');
    expect(decide({ nodeId: 'summarize' })).toBe('both');
    expect(decide({ nodeId: 'summarize', tenant: 'other' })).toBeUndefined();
    expect(decide({ tenant: undefined })).toBeUndefined();
  });

  it('a data class matches only when the prompt holds one (not yet redacted); later rules see the routed model', () => {
    const g = createPolicyGuard({
      document: {
        rules: [
          { name: 'ips', match: { dataClass: 'ip' }, action: 'redact', redact: { mode: 'mask', kinds: ['ip'] } },
          { name: 'mail-local', match: { dataClass: ['email', 'phone'] }, action: 'route', route: { model: 'local:llama' } },
          { name: 'local-cap', match: { model: 'local:*' }, action: 'cap', cap: { maxTokens: 10 } },
          { name: 'no-ip', match: { dataClass: 'ip' }, action: 'deny' },
        ],
      },
    });
    const msg = (content: string): Partial<CallCheck> => ({ request: { model: 'gpt-4o', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }] } });
    expect(g.call(callCheck(msg('nothing here')))).toEqual({ action: 'allow' });
    const v = g.call(callCheck(msg(`from 10.0.0.1 mail ${EMAIL}`)));
    expect(v).toMatchObject({ action: 'allow', rule: 'ips', model: 'local:llama', request: { maxTokens: 10, messages: [{ content: 'be brief' }, { content: `from **** mail ${EMAIL}` }] } });
  });

  it('scans a prompt once per call, and only when a rule needs it', async () => {
    let scans = 0;
    const badge: PiiDetector = { type: 'badge', detect: (t) => (scans++, [...t.matchAll(/\bB-\d{4}\b/g)].map((m) => ({ type: 'badge', start: m.index, end: m.index + m[0].length, value: m[0] }))) };
    const g = createPolicyGuard({
      detectors: [badge],
      document: {
        rules: [
          { name: 'x', match: { tenant: 'other' }, action: 'redact', redact: { mode: 'mask' } },
          { name: 'badge-mask', match: { dataClass: 'badge' }, action: 'redact', redact: { mode: 'mask', kinds: ['badge'] } },
          { name: 'mail', match: { dataClass: 'email' }, action: 'cap', cap: { maxTokens: 5 } },
          { name: 'badge-deny', match: { dataClass: 'badge' }, action: 'deny' },
        ],
      },
    });
    const v = await g.call(callCheck({ request: { model: 'gpt-4o', messages: [{ role: 'user', content: `badge B-1234 mail ${EMAIL}` }] } }));
    expect(v).toMatchObject({ action: 'allow', rule: 'badge-mask', request: { maxTokens: 5, messages: [{ content: `badge **** mail ${EMAIL}` }] } });
    expect(scans).toBe(1);
    const quiet = createPolicyGuard({ detectors: [badge], document: { rules: [{ name: 'cap', action: 'cap', cap: { maxTokens: 5 } }] } });
    await quiet.call(callCheck());
    expect(scans).toBe(1);
  });

  it('scans each stage only for the kinds its rules use: an answer checked for API keys is not scanned for badges', async () => {
    const seen: string[] = [];
    const badge: PiiDetector = { type: 'badge', detect: (t) => (seen.push(t), []) };
    const g = createPolicyGuard({
      detectors: [badge],
      document: {
        rules: [
          { name: 'badges', match: { dataClass: 'badge' }, action: 'deny' },
          { name: 'keys-out', stage: 'output', match: { dataClass: 'api_key' }, action: 'deny' },
        ],
      },
    });
    const v = await g.call(callCheck({ request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'the prompt' }] } }));
    expect(v.action === 'allow' && v.watch?.output !== undefined).toBe(true);
    const out = v.action === 'allow' ? await v.watch!.output!('the answer, key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD') : undefined;
    expect(out).toMatchObject({ action: 'deny', rule: 'keys-out' });
    expect(seen).toEqual(['the prompt']);
  });
});

describe('placeholders outside an admitted run', () => {
  it('a call of a run the guard did not admit (recovered) gets a vault of its own; output rules see the restored answer', async () => {
    const g = createPolicyGuard({
      document: {
        rules: [
          { name: 'pii', action: 'redact', redact: { mode: 'placeholder' } },
          { name: 'no-phone-out', stage: 'output', match: { dataClass: 'phone' }, action: 'redact', redact: { mode: 'mask', kinds: ['phone'] } },
        ],
      },
    });
    const v = g.call(callCheck({ runId: 'recovered-1', request: { model: 'm', messages: [{ role: 'user', content: `mail ${EMAIL} or call +1 (415) 555-2671` }] } }));
    if ('then' in v || v.action !== 'allow') throw new Error('expected a synchronous allow');
    expect(v.request?.messages[0]!.content).toBe('mail [EMAIL_1] or call [PHONE_1]');
    expect(g.stats().vaults).toBe(0);
    expect(await v.watch!.output!('Wrote [EMAIL_1], called [PHONE_1].')).toEqual({ action: 'redact', rule: 'pii', text: `Wrote ${EMAIL}, called ****.` });
  });
});

describe('TypeScript rules and failures', () => {
  it('the redacted request is built once: output rules see the very request the call was made with', async () => {
    const seen: unknown[] = [];
    const g = createPolicyGuard({
      document: {
        rules: [
          { name: 'pii', action: 'redact', redact: { mode: 'mask' } },
          { name: 'look', stage: 'output', check: (s: OutputSubject) => (seen.push(s.request), undefined) },
        ],
      },
    });
    const v = await g.call(callCheck({ request: { model: 'm', messages: [{ role: 'user', content: `mail ${EMAIL}` }] } }));
    if (v.action !== 'allow') throw new Error('expected an allow');
    await v.watch!.output!('fine');
    expect(v.request?.messages[0]!.content).toBe('mail ****');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(v.request);
  });

  it('a TypeScript rule sees the call with earlier changes and may answer asynchronously', async () => {
    const seen: (number | undefined)[] = [];
    const g = createPolicyGuard({
      document: {
        rules: [
          { name: 'cap', action: 'cap', cap: { maxTokens: 30 } },
          { name: 'long-to-mini', check: async (c: CallCheck) => (seen.push(c.request.maxTokens), c.estimate.inputTokens > 2 ? { action: 'route' as const, model: 'openai:gpt-4o-mini' } : undefined) },
          { name: 'ignored', check: () => undefined },
        ],
      },
    });
    expect(await g.call(callCheck())).toMatchObject({ action: 'allow', rule: 'cap', model: 'openai:gpt-4o-mini', request: { maxTokens: 30 } });
    expect(seen).toEqual([30]);
  });

  it('a rule that throws refuses with POLICY_FAILED (fail-closed); onError open skips it, counted and reported', async () => {
    const boom = (): never => {
      throw new Error('classifier down');
    };
    const closed = setup({ document: { rules: [{ name: 'toxicity', check: boom }] } });
    const r = await closed.engine.run(closed.t, { q: 'hi' });
    expect(r.error?.cause).toMatchObject({ code: 'POLICY_FAILED', rule: 'toxicity', message: expect.stringContaining('classifier down') });
    expect(closed.a.requests).toHaveLength(0);
    expect(closed.guard.stats().failedClosed).toBe(1);

    const failures: PolicyRuleFailure[] = [];
    const open = setup({ document: { rules: [{ name: 'toxicity', onError: 'open', check: async () => boom() }, { name: 'cap', action: 'cap', cap: { maxTokens: 7 } }] } });
    open.guard.errors$.subscribe((f) => failures.push(f));
    expect((await open.engine.run(open.t, { q: 'hi' })).status).toBe('completed');
    expect(open.a.requests[0]!.maxTokens).toBe(7);
    expect(open.guard.stats()).toMatchObject({ failedOpen: 1, failedClosed: 0 });
    expect(failures).toMatchObject([{ rule: 'toxicity', stage: 'call', outcome: 'skipped', version: 0 }]);
  });

  it('a failing custom detector refuses the rules that need it, unless the document defaults to open', async () => {
    const broken: PiiDetector = { type: 'person', detect: () => Promise.reject(new Error('NER service unreachable')) };
    const rules = [{ name: 'no-names', match: { dataClass: 'person' }, action: 'deny' as const }, { name: 'cap', action: 'cap' as const, cap: { maxTokens: 9 } }];
    const closed = createPolicyGuard({ detectors: [broken], document: { rules } });
    expect(await closed.call(callCheck())).toMatchObject({ action: 'deny', rule: 'no-names', error: { code: 'POLICY_FAILED' } });
    const open = createPolicyGuard({ detectors: [broken], document: { defaults: { onError: 'open' }, rules } });
    expect(await open.call(callCheck())).toMatchObject({ action: 'allow', rule: 'cap' });
  });

  it('a TypeScript rule answering nonsense fails closed', () => {
    const g = createPolicyGuard({ document: { rules: [{ name: 'odd', check: () => ({ action: 'sing' }) as never }] } });
    expect(g.call(callCheck())).toMatchObject({ action: 'deny', error: { code: 'POLICY_FAILED', message: expect.stringContaining('sing') } });
  });

  it('hash redaction needs the hashKey', () => {
    const doc = { rules: [{ name: 'h', action: 'redact' as const, redact: { mode: 'hash' as const } }] };
    expect(() => createPolicyGuard({ document: doc })).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', issues: [expect.objectContaining({ path: ['rules', 0, 'redact', 'mode'] })] }));
    const g = createPolicyGuard({ document: doc, hashKey: 'sixteen-bytes-key!' });
    expect(g.call(callCheck({ request: { model: 'm', messages: [{ role: 'user', content: `mail ${EMAIL}` }] } }))).toMatchObject({ request: { messages: [{ content: expect.stringMatching(/^mail <EMAIL:[0-9a-f]{12}>$/) }] } });
  });

  it('refuses bad options naming the field', () => {
    expect(() => createPolicyGuard({ hashKey: 'short' })).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['options', 'hashKey'] })] }));
    expect(() => createPolicyGuard({ detectors: [{ type: 'X', detect: () => [] }] })).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID' }));
  });
});

describe('weights and decisions', () => {
  it('tenant weights come from the document and change with it', () => {
    const g = createPolicyGuard({ document: { tenants: { acme: { weight: 3 }, tiny: { weight: 0.5 } }, rules: [] } });
    expect([g.weight('acme'), g.weight('tiny'), g.weight('other')]).toEqual([3, 0.5, 1]);
    g.apply({ tenants: { acme: { weight: 1 } }, rules: [] });
    expect(g.weight('acme')).toBe(1);
  });

  it('every decision carries the version that made it', async () => {
    const g = createPolicyGuard({ version: 4, document: { rules: [{ name: 'cap', action: 'cap', cap: { maxTokens: 5 } }] } });
    const seen: PolicyDecision[] = [];
    g.decisions$.subscribe((d) => seen.push(d));
    const { engine, t } = setup(g);
    await engine.run(t, { q: 'hi' }, { runId: 'v4' });
    expect(seen).toMatchObject([{ stage: 'run', version: 4, runId: 'v4', action: 'allow' }, { stage: 'call', version: 4, runId: 'v4', action: 'allow', rule: 'cap', changed: true }]);
    expect(g.stats()).toMatchObject({ version: 4, rules: 1, checks: { run: 1, call: 1 }, changed: 1 });
  });
});
