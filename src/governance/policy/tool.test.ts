/**
 * Tool-stage policy rules end to end through a real engine (a tool that records the arguments
 * it gets): deny naming the rule, redaction keeping the arguments' shape (mask, and the run's
 * placeholders shared with model calls), tool-name globs, data classes in nested values, one
 * scan per tool call, misplaced match fields, TypeScript rules (rewrites, fail-closed), hot reload.
 */
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  createEngine, createModels, defineTool, isPolicyError, isValidationError, topology,
  type CompletionRequest, type EngineEvent, type PolicyDecisionEvent, type Provider, type ProviderEvent, type ToolCheck,
} from '../../index.ts';
import type { Issue } from '../../errors.ts';
import type { PiiDetector } from '../pii/types.ts';
import { withStrings, stringsOf } from './findings.ts';
import { createPolicyGuard, type PolicyDecision, type PolicyGuard, type PolicyGuardOptions, type PolicyRuleFailure } from './guard.ts';

const EMAIL = 'ana.lima@example.com';
const CARD = '4111 1111 1111 1111';

const Contact = z.object({
  name: z.string(),
  contact: z.object({ email: z.string(), phones: z.array(z.string()) }),
  notes: z.array(z.object({ text: z.string(), pinned: z.boolean() })),
  limit: z.number(),
});
type ContactArgs = z.infer<typeof Contact>;

/** A model provider that echoes the last prompt and records the requests. */
function echo(): Provider & { readonly requests: CompletionRequest[] } {
  const requests: CompletionRequest[] = [];
  return {
    name: 'a',
    requests,
    stream: (req) => new Observable<ProviderEvent>((s) => {
      requests.push(req);
      s.next({ type: 'response', status: 200, rateLimit: {} });
      s.next({ type: 'text', text: `echo: ${req.messages.at(-1)?.content ?? ''}` });
      s.next({ type: 'usage', usage: { inputTokens: 10, outputTokens: 3, cachedTokens: 0, reasoningTokens: 0 } });
      s.next({ type: 'finish', reason: 'stop' });
      s.complete();
    }),
  };
}

function setup(options: PolicyGuardOptions | PolicyGuard) {
  const guard = 'apply' in options ? options as PolicyGuard : createPolicyGuard(options);
  const seen: { tool: string; args: unknown }[] = [];
  const tool = <A>(name: string, input: z.ZodType<A>) => defineTool({ name, input, run: (args: A) => (seen.push({ tool: name, args }), `${name} done`) });
  const crm = tool('crm.search', Contact);
  const mail = tool('mail.send', z.object({ to: z.string(), body: z.string() }));
  const provider = echo();
  const engine = createEngine({ models: createModels({ providers: [provider], prices: { 'a:big': { input: 1, output: 1 } } }), guard });
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  const lookup = topology('lookup', { input: Contact })
    .tool('find', { tool: crm, args: ({ input }) => input })
    .build({ output: 'find' });
  const send = topology('send', { input: z.object({ to: z.string(), body: z.string() }) })
    .tool('send', { tool: mail, args: ({ input }) => input })
    .build({ output: 'send' });
  // a tool call, then a model call whose prompt holds the same email
  const both = topology('both', { input: Contact })
    .tool('find', { tool: crm, args: ({ input }) => input })
    .llm('answer', { after: ['find'], model: 'a:big', prompt: ({ input }) => `write to ${input.notes[0]?.text ?? ''}` })
    .build({ output: 'answer' });
  const decisions = (): PolicyDecisionEvent[] => events.filter((e): e is PolicyDecisionEvent => e.type === 'policy.decision');
  return { guard, engine, seen, lookup, send, both, provider, decisions };
}

const args = (over: Partial<ContactArgs> = {}): ContactArgs => ({
  name: 'Ana Lima',
  contact: { email: EMAIL, phones: ['+1 (415) 555-2671', 'none'] },
  notes: [{ text: 'pays by card', pinned: true }],
  limit: 5,
  ...over,
});

function issuesOf(f: () => unknown): Issue[] {
  try {
    f();
  } catch (e) {
    if (isValidationError(e)) return [...e.issues];
    throw e;
  }
  throw new Error('accepted');
}

describe('tool rules through the engine', () => {
  it('deny fails the tool node with POLICY_DENIED naming the rule; the tool is never called', async () => {
    const { engine, guard, seen, lookup, decisions } = setup({ version: 2, document: { rules: [{ name: 'no-crm', stage: 'tool', action: 'deny', message: 'the CRM is closed' }] } });
    const mine: PolicyDecision[] = [];
    guard.decisions$.subscribe((d) => mine.push(d));
    const r = await engine.run(lookup, args(), { tenant: 'acme' });
    expect(r.status).toBe('failed');
    const cause = r.error?.cause;
    expect(isPolicyError(cause) && cause.code === 'POLICY_DENIED' && cause.rule === 'no-crm').toBe(true);
    expect((cause as Error).message).toBe("the CRM is closed (rule 'no-crm')");
    expect(seen).toEqual([]);
    expect(decisions()).toMatchObject([{ stage: 'tool', action: 'deny', rule: 'no-crm', tool: 'crm.search', nodeId: 'find' }]);
    expect(mine).toMatchObject([{ stage: 'run', version: 2 }, { stage: 'tool', version: 2, action: 'deny', rule: 'no-crm', tool: 'crm.search', nodeId: 'find' }]);
    expect(guard.stats()).toMatchObject({ rules: 1, checks: { tool: 1 }, denied: 1 });
  });

  it('a default deny message names the tool and the node', async () => {
    const { engine, lookup } = setup({ document: 'rules: [{ name: nope, stage: tool, action: deny }]' });
    const r = await engine.run(lookup, args());
    expect((r.error?.cause as Error).message).toBe("the call of tool 'crm.search' by node 'find' is not allowed (rule 'nope')");
  });

  it('redact (mask) rewrites every string of the arguments and keeps their shape', async () => {
    const { engine, seen, lookup, decisions } = setup({ document: 'rules: [{ name: pii-tools, stage: tool, action: redact, redact: { mode: mask, kinds: [email, phone] } }]' });
    const input = args();
    const r = await engine.run(lookup, input);
    expect(r.status).toBe('completed');
    expect(seen).toEqual([{
      tool: 'crm.search',
      args: { name: 'Ana Lima', contact: { email: '****', phones: ['****', 'none'] }, notes: [{ text: 'pays by card', pinned: true }], limit: 5 },
    }]);
    // the run's input is untouched
    expect(input.contact.email).toBe(EMAIL);
    expect(decisions()).toMatchObject([{ stage: 'tool', action: 'allow', rule: 'pii-tools', requestChanged: true }]);
  });

  it("redact (placeholder) uses the run's vault: the tool and the model see the same placeholder, the answer gets the value back", async () => {
    const { engine, guard, seen, both, provider } = setup({
      document: `
rules:
  - { name: pii-tools, stage: tool, action: redact, redact: { mode: placeholder, kinds: [email] } }
  - { name: pii-calls, action: redact, redact: { mode: placeholder, kinds: [email] } }
`,
    });
    const r = await engine.run(both, args({ contact: { email: 'bo@example.org', phones: [] }, notes: [{ text: EMAIL, pinned: false }] }));
    expect(r.status).toBe('completed');
    expect(seen[0]!.args).toMatchObject({ contact: { email: '[EMAIL_1]' }, notes: [{ text: '[EMAIL_2]' }] });
    // the model call numbers on from the tool call's placeholders: one vault for the run
    expect(provider.requests[0]!.messages.at(-1)!.content).toBe('write to [EMAIL_2]');
    expect((r.outputs as { answer: { text: string } }).answer.text).toBe(`echo: write to ${EMAIL}`);
    expect(guard.stats().vaults).toBe(0);
  });

  it('matches tool names with globs and lists, with the other subject fields', async () => {
    const g = createPolicyGuard({ document: { rules: [{ name: 'crm-closed', stage: 'tool', match: { tool: ['crm.*', 'hr.payroll'], tenant: 'free-*' }, action: 'deny' }] } });
    const check: ToolCheck = { runId: 'r', topology: 't', nodeId: 'n', tool: 'crm.search', tenant: 'free-eu', args: {} };
    expect(g.tool(check)).toMatchObject({ action: 'deny', rule: 'crm-closed' });
    expect(g.tool({ ...check, tool: 'hr.payroll' })).toMatchObject({ action: 'deny' });
    expect(g.tool({ ...check, tool: 'hr.payroll.v2' })).toEqual({ action: 'allow' });
    expect(g.tool({ ...check, tool: 'mail.send' })).toEqual({ action: 'allow' });
    expect(g.tool({ ...check, tenant: 'paid' })).toEqual({ action: 'allow' });
    const { engine, seen, lookup, send } = setup(g);
    expect((await engine.run(lookup, args(), { tenant: 'free-eu' })).error?.cause).toMatchObject({ code: 'POLICY_DENIED', rule: 'crm-closed' });
    expect((await engine.run(send, { to: 'x', body: 'y' }, { tenant: 'free-eu' })).status).toBe('completed');
    expect((await engine.run(lookup, args(), { tenant: 'paid' })).status).toBe('completed');
    expect(seen.map((s) => s.tool)).toEqual(['mail.send', 'crm.search']);
  });

  it('dataClass matches PII anywhere in the arguments, nested values included, and not once redacted', async () => {
    const { engine, seen, lookup } = setup({
      document: {
        rules: [
          { name: 'mask-emails', stage: 'tool', action: 'redact', redact: { mode: 'mask', kinds: ['email'] } },
          { name: 'no-emails', stage: 'tool', match: { dataClass: 'email' }, action: 'deny' },
          { name: 'no-cards', stage: 'tool', match: { dataClass: ['credit_card', 'iban'], node: 'find' }, action: 'deny' },
        ],
      },
    });
    const carded = await engine.run(lookup, args({ notes: [{ text: 'ok', pinned: false }, { text: `card ${CARD} on file`, pinned: true }] }));
    expect(carded.error?.cause).toMatchObject({ code: 'POLICY_DENIED', rule: 'no-cards' });
    // an invalid card number (Luhn) is not a card
    expect((await engine.run(lookup, args({ notes: [{ text: 'card 4111 1111 1111 1112', pinned: true }] }))).status).toBe('completed');
    expect(seen).toHaveLength(1);
  });

  it('scans the arguments once per tool call, and only when a rule needs it', async () => {
    let scans = 0;
    const employee: PiiDetector = { type: 'employee_id', detect: (t) => (scans++, [...t.matchAll(/\bE-\d{5}\b/g)].map((m) => ({ type: 'employee_id', start: m.index, end: m.index + m[0].length, value: m[0] }))) };
    const { engine, seen, lookup, send } = setup({
      detectors: [employee],
      document: {
        rules: [
          { name: 'hr-ids', stage: 'tool', match: { tool: 'mail.*', dataClass: 'employee_id' }, action: 'redact', redact: { mode: 'mask', kinds: ['employee_id'] } },
          { name: 'hr-leak', stage: 'tool', match: { tool: 'mail.*', dataClass: ['employee_id', 'email'] }, action: 'deny' },
        ],
      },
    });
    expect((await engine.run(send, { to: 'boss', body: 'promote E-12345' })).status).toBe('completed');
    expect(seen[0]!.args).toEqual({ to: 'boss', body: 'promote ****' });
    expect(scans).toBe(2); // two strings, one scan
    expect((await engine.run(lookup, args())).status).toBe('completed');
    expect(scans).toBe(2); // no rule matched crm.search: nothing scanned
  });
});

describe('tool rules in the document', () => {
  it('a misplaced tool match field is refused with its path; tool rules cannot match a model', () => {
    const doc = {
      rules: [
        { name: 'ok', stage: 'tool', match: { tool: 'crm.*' }, action: 'deny' },
        { name: 'call-tool', match: { tool: 'crm.*' }, action: 'deny' },
        { name: 'run-tool', stage: 'run', match: { tool: 'crm.*' }, action: 'deny' },
        { name: 'out-tool', stage: 'output', match: { tool: 'crm.*' }, action: 'deny' },
        { name: 'tool-model', stage: 'tool', match: { model: 'a:*' }, action: 'deny' },
        { name: 'tool-cap', stage: 'tool', action: 'cap', cap: { maxTokens: 5 } },
        { name: 'ts-call-tool', match: { tool: 'x' }, check: () => undefined },
      ],
    };
    const issues = issuesOf(() => createPolicyGuard({ document: doc as never }));
    expect(issues.map((i) => [i.path.join('.'), i.code])).toEqual([
      ['rules.1.match.tool', 'invalid_match'],
      ['rules.2.match.tool', 'invalid_match'],
      ['rules.3.match.tool', 'invalid_match'],
      ['rules.4.match.model', 'invalid_match'],
      ['rules.5.action', 'invalid_action'],
      ['rules.6.match.tool', 'invalid_match'],
    ]);
    expect(issues[0]!.message).toBe('a call-stage rule cannot match on tool (only tool-stage rules match on the tool)');
    // and a hot reload with it keeps the rules in force
    const g = createPolicyGuard({ document: { rules: [doc.rules[0]!] as never } });
    expect(() => g.apply('rules: [{ name: x, match: { tool: a }, action: deny }]')).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', issues: [expect.objectContaining({ path: ['rules', 0, 'match', 'tool'] })] }));
    expect(g.stats()).toMatchObject({ version: 0, rules: 1 });
  });

  it('hot reload swaps tool rules with the rest; decisions carry the version', async () => {
    const { engine, guard, lookup } = setup({ document: { rules: [] } });
    const seen: PolicyDecision[] = [];
    guard.decisions$.subscribe((d) => d.stage === 'tool' && seen.push(d));
    expect((await engine.run(lookup, args())).status).toBe('completed');
    expect(guard.apply('{"version": 7, "rules": [{"name": "crm-off", "stage": "tool", "match": {"tool": "crm.*"}, "action": "deny"}]}', { format: 'json' })).toBe(7);
    expect((await engine.run(lookup, args())).error?.cause).toMatchObject({ rule: 'crm-off' });
    guard.apply({ rules: [] });
    expect((await engine.run(lookup, args())).status).toBe('completed');
    expect(seen.map((d) => [d.version, d.action, d.rule])).toEqual([[0, 'allow', undefined], [7, 'deny', 'crm-off'], [8, 'allow', undefined]]);
  });
});

describe('TypeScript tool rules', () => {
  it('see the arguments with earlier redactions and may rewrite them; a rewrite that misfits the schema fails the node', async () => {
    const views: unknown[] = [];
    const { engine, seen, lookup } = setup({
      document: {
        rules: [
          { name: 'mask', stage: 'tool', action: 'redact', redact: { mode: 'mask', kinds: ['email'] } },
          { name: 'cap-limit', stage: 'tool', check: async (c: ToolCheck) => (views.push(c.args), { action: 'redact' as const, args: { ...(c.args as ContactArgs), limit: 1 } }) },
          { name: 'mask-phones', stage: 'tool', action: 'redact', redact: { mode: 'mask', kinds: ['phone'] } },
        ],
      },
    });
    expect((await engine.run(lookup, args())).status).toBe('completed');
    expect((views[0] as ContactArgs).contact.email).toBe('****');
    expect(seen[0]!.args).toMatchObject({ contact: { email: '****', phones: ['****', 'none'] }, limit: 1 });

    const bad = setup({ document: { rules: [{ name: 'breaks', stage: 'tool', check: () => ({ action: 'redact' as const, args: { limit: 'many' } }) }] } });
    const cause = (await bad.engine.run(bad.lookup, args())).error?.cause;
    expect(isValidationError(cause) && cause.code === 'TOOL_INPUT_INVALID' && cause.issues[0]?.path[1] === 'breaks').toBe(true);
    expect(bad.seen).toEqual([]);
  });

  it('a tool rule that throws refuses with POLICY_FAILED (fail-closed); onError open skips it, reported', async () => {
    const boom = (): never => {
      throw new Error('allow-list service down');
    };
    const closed = setup({ document: { rules: [{ name: 'allow-list', stage: 'tool', check: boom }] } });
    const r = await closed.engine.run(closed.lookup, args());
    expect(r.error?.cause).toMatchObject({ code: 'POLICY_FAILED', rule: 'allow-list', message: expect.stringContaining('allow-list service down') });
    expect(closed.seen).toEqual([]);
    expect(closed.guard.stats().failedClosed).toBe(1);
    const rejecting = setup({ document: { rules: [{ name: 'allow-list', stage: 'tool', check: async () => boom() }] } });
    expect((await rejecting.engine.run(rejecting.lookup, args())).error?.cause).toMatchObject({ code: 'POLICY_FAILED' });
    const nonsense = setup({ document: { rules: [{ name: 'odd', stage: 'tool', check: () => ({ action: 'route', model: 'a:big' }) as never }] } });
    expect((await nonsense.engine.run(nonsense.lookup, args())).error?.cause).toMatchObject({ code: 'POLICY_FAILED', message: expect.stringContaining('route') });

    const failures: PolicyRuleFailure[] = [];
    const open = setup({ document: { rules: [{ name: 'allow-list', stage: 'tool', onError: 'open', check: boom }, { name: 'mask', stage: 'tool', action: 'redact', redact: { mode: 'mask', kinds: ['email'] } }] } });
    open.guard.errors$.subscribe((f) => failures.push(f));
    expect((await open.engine.run(open.lookup, args())).status).toBe('completed');
    expect((open.seen[0]!.args as ContactArgs).contact.email).toBe('****');
    expect(failures).toMatchObject([{ rule: 'allow-list', stage: 'tool', outcome: 'skipped' }]);
  });
});

describe('withStrings', () => {
  it('puts strings back in stringsOf order, keeping shape, shared parts and untouched originals', () => {
    const shared = { email: EMAIL };
    const when = new Date(0);
    const value = { a: shared, b: [shared, 'x', 7, null], when, nested: { keep: ['y'] } };
    expect(stringsOf(value)).toEqual([EMAIL, 'x', 'y']);
    const out = withStrings(value, ['****', 'x', 'y']) as typeof value;
    expect(out).toEqual({ a: { email: '****' }, b: [{ email: '****' }, 'x', 7, null], when, nested: { keep: ['y'] } });
    expect(out.a).toBe(out.b[0]);
    expect(out.when).toBe(when);
    expect(out.nested).toBe(value.nested);
    expect(withStrings(value, [EMAIL, 'x', 'y'])).toBe(value);
    const cyclic: { s: string; self?: unknown } = { s: EMAIL };
    cyclic.self = cyclic;
    const c = withStrings(cyclic, ['****']) as { s: string; self: unknown };
    expect(c.s).toBe('****');
    expect(c.self).toBe(c);
  });
});
