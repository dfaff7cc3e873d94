// Policy decisions and admin actions as audit records, on a real engine whose guards deny runs,
// redact prompts and outputs and deny calls: each decision becomes a `policy.decision` record
// (stage, action, rule, user, project); model calls carry user and project; with redaction on,
// no record holds unredacted PII or a secret (every string scanned with scanPiiSync).
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { PolicyError, createEngine, createModels, topology, type Guard, type Provider, type ProviderEvent } from '../../index.ts';
import { redactPiiSync, scanPiiSync } from '../pii/index.ts';
import { auditAdmin } from './admin.ts';
import { auditEvents } from './events.ts';
import { createAuditLog } from './log.ts';
import type { AuditRecord } from './record.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { verifyAudit } from './verify.ts';

const SECRET = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const EMAIL = 'ada@example.com';

/** Echoes the last user message back (so an unredacted prompt would reach the output), then bills. */
function echo(): Provider {
  return {
    name: 'a',
    stream: (req) => new Observable<ProviderEvent>((s) => {
      s.next({ type: 'response', status: 200, rateLimit: {} });
      const last = req.messages[req.messages.length - 1];
      s.next({ type: 'text', text: `you said: ${typeof last?.content === 'string' ? last.content : ''} reply to ${EMAIL}` });
      s.next({ type: 'usage', usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0 } });
      s.next({ type: 'finish', reason: 'stop' });
      s.complete();
    }),
  };
}

const redact = (text: string): string => redactPiiSync(text, { mode: 'mask' }).text;

/** Denies tenant `blocked`; redacts every prompt and output; denies calls of project `secret-ops` with PII in the message. */
const guard: Guard = {
  name: 'test-policy',
  run: (c) => (c.tenant === 'blocked'
    ? { action: 'deny', rule: 'blocked-tenant', error: new PolicyError('POLICY_DENIED', `tenant blocked (contact ${EMAIL})`, { rule: 'blocked-tenant' }) }
    : { action: 'allow' }),
  call: (c) => (c.project === 'secret-ops'
    ? { action: 'deny', rule: 'no-secret-ops', error: new PolicyError('POLICY_DENIED', `refused: prompt held ${SECRET}`, { rule: 'no-secret-ops' }) }
    : {
        action: 'allow',
        rule: 'pii-redact',
        request: { ...c.request, messages: c.request.messages.map((m) => (typeof m.content === 'string' ? { ...m, content: redact(m.content) } : m)) },
        watch: { output: (text) => ({ action: 'redact', rule: 'pii-out', text: redact(text) }) },
      }),
};

const t = topology('support', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'a:big', prompt: ({ input }) => `${input.q} (mail ${EMAIL}, key ${SECRET})`, maxTokens: 32 })
  .build({ output: 'answer' });

/** Every string of a record but its chain hashes. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) if (k !== 'hash' && k !== 'prevHash') strings(x, out);
  return out;
}

describe('policy decisions in the audit log', () => {
  it('records each decision with its rule, user and project; model calls carry user and project; no PII or secret in any record', async () => {
    const models = createModels({ providers: [echo()], prices: { 'a:big': { input: 1, output: 1 } } });
    const engine = createEngine({ models, guard });
    const sink = createMemoryAuditSink();
    const log = createAuditLog({ sink });
    const sub = auditEvents(engine.events$, log, { actor: 'worker-1', capture: true });

    const ok = await engine.run(t, { q: `I am ${EMAIL}` }, { tenant: 'acme', user: 'u1', project: 'search', runId: 'r-ok' });
    const blocked = await engine.run(t, { q: 'hi' }, { tenant: 'blocked', user: 'u2', runId: 'r-blocked' });
    const refused = await engine.run(t, { q: 'hi' }, { tenant: 'acme', user: 'u3', project: 'secret-ops', runId: 'r-refused' });
    await auditAdmin(log, { actor: 'ops-7', action: 'admin.policy.apply', tenant: 'acme', details: { topology: 'support', version: 3 } });
    sub.unsubscribe();
    await log.flush();

    expect([ok.status, blocked.status, refused.status]).toEqual(['completed', 'failed', 'failed']);
    const decisions = sink.records.filter((r) => r.action === 'policy.decision');
    const view = (r: AuditRecord): unknown => [r.runId, r.tenant, r.user, r.details];
    expect(decisions.map(view)).toEqual([
      ['r-ok', 'acme', 'u1', { stage: 'call', action: 'allow', rule: 'pii-redact', nodeId: 'answer', model: 'a:big', requestChanged: true, project: 'search' }],
      ['r-ok', 'acme', 'u1', { stage: 'output', action: 'redact', rule: 'pii-out', nodeId: 'answer', model: 'a:big', project: 'search' }],
      ['r-blocked', 'blocked', 'u2', { stage: 'run', action: 'deny', rule: 'blocked-tenant', error: { code: 'POLICY_DENIED', message: expect.not.stringContaining(EMAIL) } }],
      ['r-refused', 'acme', 'u3', expect.objectContaining({ stage: 'call', action: 'deny', rule: 'no-secret-ops', nodeId: 'answer', project: 'secret-ops', error: expect.objectContaining({ code: 'POLICY_DENIED' }) })],
    ]);
    const call = sink.records.find((r) => r.action === 'model.call' && r.runId === 'r-ok')!;
    expect(call).toMatchObject({ tenant: 'acme', user: 'u1', details: { project: 'search', model: 'a:big' } });
    expect(sink.records.at(-1)).toMatchObject({ actor: 'ops-7', action: 'admin.policy.apply', stream: 'acme', tenant: 'acme', details: { topology: 'support', version: 3 } });
    expect(verifyAudit(sink.records).ok).toBe(true);

    // redaction on (the log's default): nothing a detector finds, in any string of any record
    const findings = sink.records.flatMap((r) => strings(r).flatMap((s) => scanPiiSync(s).map((m) => `${r.action}: ${m.type}`)));
    expect(findings).toEqual([]);
    const all = JSON.stringify(sink.records);
    expect(all).not.toContain(EMAIL);
    expect(all).not.toContain(SECRET);
  });

  it('auditAdmin refuses what is not an admin action, naming the field', async () => {
    const log = createAuditLog({ sink: createMemoryAuditSink() });
    await expect(auditAdmin(log, { actor: 'ops', action: 'policy.apply' })).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID', issues: [expect.objectContaining({ path: ['action', 'action'] })] });
    await expect(auditAdmin(log, { actor: '', action: 'admin.key.create' })).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID', issues: [expect.objectContaining({ path: ['action', 'actor'] })] });
    await expect(auditAdmin(log, { actor: 'ops', action: 'admin.key.create', details: { keyId: 'k-1' } })).resolves.toMatchObject({ stream: 'global', seq: 0, action: 'admin.key.create' });
  });
});
