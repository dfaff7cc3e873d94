/**
 * The rules document: what is accepted (YAML, JSON, values with TypeScript rules) and every way
 * a document is refused, each problem named by its path.
 */
import { describe, expect, it } from 'vitest';
import { isValidationError, type Issue } from '../../errors.ts';
import { globMatcher } from './match.ts';
import { parsePolicyRules } from './parse.ts';

/** The issues a document is refused with (fails the test when it is accepted). */
function issuesOf(doc: unknown, options: Parameters<typeof parsePolicyRules>[1] = {}): Issue[] {
  try {
    parsePolicyRules(doc, options);
  } catch (e) {
    if (isValidationError(e)) return [...e.issues];
    throw e;
  }
  throw new Error('the document was accepted');
}
const paths = (issues: readonly Issue[]): string[] => issues.map((i) => i.path.join('.'));

describe('parsePolicyRules', () => {
  it('reads YAML and JSON texts, defaulting the stage', () => {
    const yaml = parsePolicyRules(`
version: 3
defaults: { onError: open }
tenants: { acme: { weight: 2 } }
rules:
  - { name: no-opus, match: { tenant: [free, 'trial-*'], model: '*opus*' }, action: deny, message: not on the free tier }
  - { name: pii, action: redact, redact: { mode: placeholder, kinds: [email, phone] } }
  - { name: cards-in, stage: run, match: { dataClass: credit_card }, action: deny }
`);
    expect(yaml.version).toBe(3);
    expect(yaml.tenants).toEqual({ acme: { weight: 2 } });
    expect(yaml.rules.map((r) => [r.name, r.stage])).toEqual([['no-opus', 'call'], ['pii', 'call'], ['cards-in', 'run']]);
    const json = parsePolicyRules('{"rules":[{"name":"cap","action":"cap","cap":{"maxTokens":256}}]}', { format: 'json' });
    expect(json.rules[0]).toEqual({ name: 'cap', stage: 'call', action: 'cap', cap: { maxTokens: 256 } });
  });

  it('keeps TypeScript rules among document rules', () => {
    const check = (): undefined => undefined;
    const doc = parsePolicyRules({ rules: [{ name: 'a', action: 'allow' }, { name: 'ts', stage: 'output', check }] });
    expect((doc.rules[1] as { check: unknown }).check).toBe(check);
  });

  it('names the bad field of a rule', () => {
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'allow' }, { name: 'b', action: 'allow' }, { name: 'c', action: 'deny', match: { model: 42 } }] }))).toEqual(['rules.2.match.model']);
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'explode' }] }))).toEqual(['rules.0.action']);
    expect(paths(issuesOf({ rules: [{ name: '', action: 'deny' }] }))).toEqual(['rules.0.name']);
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'deny', colour: 'red' }] }))).toEqual(['rules.0']);
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'cap', cap: { maxTokens: 0 } }] }))).toEqual(['rules.0.cap.maxTokens']);
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'deny', match: { tenant: [] } }] }))).toEqual(['rules.0.match.tenant']);
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'route', route: { model: 'gpt-4o' } }] }))).toEqual(['rules.0.route.model']);
  });

  it('checks each action has its own particulars and no other', () => {
    const issues = issuesOf({
      rules: [
        { name: 'r', action: 'route' },
        { name: 'c', action: 'cap' },
        { name: 'p', action: 'approval' },
        { name: 'x', action: 'redact' },
        { name: 'd', action: 'deny', route: { model: 'a:b' } },
      ],
    });
    expect(paths(issues)).toEqual(['rules.0.route', 'rules.1.cap', 'rules.2.approval', 'rules.3.redact', 'rules.4.route']);
    expect(issues[0]!.message).toBe("action 'route' needs route.model");
  });

  it('checks what each stage allows', () => {
    const issues = issuesOf({
      rules: [
        { name: 'a', stage: 'run', action: 'cap', cap: { maxTokens: 5 } },
        { name: 'b', stage: 'run', action: 'deny', match: { model: 'a:*', node: 'n' } },
        { name: 'c', stage: 'output', action: 'route', route: { model: 'a:b' } },
        { name: 'd', stage: 'dinner', action: 'deny' },
      ],
    });
    expect(paths(issues)).toEqual(['rules.0.action', 'rules.1.match.node', 'rules.1.match.model', 'rules.2.action', 'rules.3.stage']);
  });

  it('reads tool-stage rules: tool globs, data classes, redaction; tool only on tool rules, with its path', () => {
    const doc = parsePolicyRules(`
rules:
  - { name: crm-cards, stage: tool, match: { tool: ['crm.*', mail.send], node: lookup, dataClass: credit_card }, action: deny }
  - { name: crm-pii, stage: tool, action: redact, redact: { mode: placeholder, kinds: [email] } }
`);
    expect(doc.rules[0]).toEqual({ name: 'crm-cards', stage: 'tool', match: { tool: ['crm.*', 'mail.send'], node: 'lookup', dataClass: 'credit_card' }, action: 'deny' });
    const issues = issuesOf({
      rules: [
        { name: 'a', match: { tool: 'crm.*' }, action: 'deny' },
        { name: 'b', stage: 'tool', match: { tool: [] }, action: 'deny' },
        { name: 'c', stage: 'tool', action: 'route', route: { model: 'a:b' } },
        { name: 'd', stage: 'tool', match: { dataClass: 'emial' }, action: 'deny' },
      ],
    });
    expect(paths(issues)).toEqual(['rules.0.match.tool', 'rules.1.match.tool', 'rules.2.action', 'rules.3.match.dataClass']);
  });

  it('refuses duplicate names and unknown data classes; custom detectors add classes', () => {
    expect(paths(issuesOf({ rules: [{ name: 'a', action: 'allow' }, { name: 'b', action: 'allow' }, { name: 'a', action: 'deny' }] }))).toEqual(['rules.2.name']);
    const unknown = issuesOf({ rules: [{ name: 'a', action: 'deny', match: { dataClass: ['email', 'emial'] } }, { name: 'b', action: 'redact', redact: { mode: 'mask', kinds: 'badge' } }] });
    expect(paths(unknown)).toEqual(['rules.0.match.dataClass.1', 'rules.1.redact.kinds']);
    expect(unknown[0]!.message).toMatch(/unknown data class 'emial'/);
    expect(() => parsePolicyRules({ rules: [{ name: 'b', action: 'redact', redact: { mode: 'mask', kinds: 'badge' } }] }, { dataClasses: ['badge'] })).not.toThrow();
  });

  it('checks the frame and TypeScript rules', () => {
    expect(paths(issuesOf({ version: -1, defaults: { onError: 'maybe' }, tenants: { acme: { weight: 0 } }, rules: [] }))).toEqual(['version', 'defaults.onError', 'tenants.acme.weight']);
    expect(paths(issuesOf({}))).toEqual(['rules']);
    expect(paths(issuesOf({ rules: [{ name: 'ts', check: 'yes' }] }))).toEqual(['rules.0.check']);
    expect(paths(issuesOf({ rules: [{ name: 'ts', stage: 'run', match: { node: 'n' }, check: () => undefined }] }))).toEqual(['rules.0.match.node']);
  });

  it('reports unreadable texts with their position', () => {
    let caught: unknown;
    try {
      parsePolicyRules('rules: [ { name: a, action: deny }\n  oops: : :');
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ code: 'POLICY_UNREADABLE' });
    expect(() => parsePolicyRules('{ not json', { format: 'json' })).toThrow(expect.objectContaining({ code: 'POLICY_UNREADABLE' }));
    expect(() => parsePolicyRules({ rules: [] }, { format: 'xml' } as never)).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID' }));
  });
});

describe('globMatcher', () => {
  it('matches names exactly and * as any run of characters, anchored', () => {
    const m = globMatcher(['free', 'trial-*', '*.internal']);
    expect(['free', 'trial-', 'trial-7', 'a.internal'].map(m)).toEqual([true, true, true, true]);
    expect(['freedom', 'xtrial-7', 'a.internal.x', undefined].map(m)).toEqual([false, false, false, false]);
    expect(globMatcher('openai:gpt-4o*')('openai:gpt-4o-mini')).toBe(true);
    expect(globMatcher('a.b')('axb')).toBe(false);
    expect(globMatcher('*')(undefined)).toBe(true);
  });
});
