// Engine events as audit records, on a real engine with the sim provider: run start and end (with
// usage) and each model call (model, usage, cost), streams by tenant (every event carries it), captured text redacted, nothing
// secret in any record; failures of the log reach onError and health, never silence.
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../../index.ts';
import type { EngineEvent } from '../../runtime/events.ts';
import { auditEntryOf, auditEvents } from './events.ts';
import { createAuditLog } from './log.ts';
import type { AuditSink } from './types.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { verifyAudit } from './verify.ts';

const SECRET = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:fast', system: 'Answer briefly.', prompt: ({ input }) => `${input.q} (mail ada@example.com, key ${SECRET})`, maxTokens: 64, temperature: 0.2 })
  .build({ output: 'answer' });

describe('auditEvents', () => {
  it('records run start, model call and run end with usage and cost, all in the run\'s tenant\'s stream with its user', async () => {
    const engine = createEngine();
    const sink = createMemoryAuditSink();
    const log = createAuditLog({ sink });
    const sub = auditEvents(engine.events$, log, { actor: 'worker-1' });
    const r = await engine.run(qa, { q: 'why?' }, { tenant: 'acme', user: 'ana', runId: 'r-acme' });
    await engine.run(qa, { q: 'and?' }, { runId: 'r-none' });
    sub.unsubscribe();
    await log.flush();
    expect(r.status).toBe('completed');
    expect(sink.records.map((x) => [x.runId, x.action, x.stream, x.seq])).toEqual([
      ['r-acme', 'run.started', 'acme', 0], ['r-acme', 'model.call', 'acme', 1], ['r-acme', 'run.completed', 'acme', 2],
      ['r-none', 'run.started', 'global', 0], ['r-none', 'model.call', 'global', 1], ['r-none', 'run.completed', 'global', 2],
    ]);
    const [started, call, completed] = sink.records;
    expect(started).toMatchObject({ actor: 'worker-1', runId: 'r-acme', topology: 'qa', tenant: 'acme', user: 'ana', details: { priority: 'normal' } });
    expect(call).toMatchObject({
      tenant: 'acme', user: 'ana', runId: 'r-acme',
      details: { nodeId: 'answer', provider: 'sim', model: 'sim:fast', attempt: 1, finishReason: 'stop', costUsd: r.usage.costUsd, usage: { outputTokens: r.usage.outputTokens }, request: { model: 'fast', temperature: 0.2, maxTokens: 64 } },
    });
    expect(call!.details).not.toHaveProperty('text');
    expect(call!.details).not.toHaveProperty('request.messages');
    expect(completed).toMatchObject({ tenant: 'acme', user: 'ana', details: { usage: { calls: 1, outputTokens: r.usage.outputTokens } } });
    expect(completed!.details).not.toHaveProperty('output');
    expect(verifyAudit(sink.records)).toMatchObject({ ok: true, streams: 2 });
  });

  it('tenantOf and userOf name them for events that carry none', () => {
    const options = { tenantOf: (runId: string) => (runId === 'r-2' ? 'acme' : undefined), userOf: () => 'bo' };
    const e = { type: 'run.started', runId: 'r-2', topology: 't', seq: 0, ts: 1, priority: 'normal' } as const;
    expect(auditEntryOf(e, options)).toMatchObject({ tenant: 'acme', user: 'bo' });
    expect(auditEntryOf({ ...e, tenant: 'own', user: 'cy' }, options)).toMatchObject({ tenant: 'own', user: 'cy' });
    expect(auditEntryOf({ ...e, runId: 'r-3' }, options)).toMatchObject({ tenant: null, user: 'bo' });
  });

  it('captures prompts, completions and outputs only when asked, redacted: no PII or key in any record', async () => {
    const engine = createEngine();
    const sink = createMemoryAuditSink();
    const log = createAuditLog({ sink });
    const sub = auditEvents(engine.events$, log, { capture: true });
    await engine.run(qa, { q: 'who is ada@example.com?' });
    sub.unsubscribe();
    await log.flush();
    const call = sink.records.find((x) => x.action === 'model.call')!;
    const messages = (call.details as { request: { messages: { role: string; content: string }[] } }).request.messages;
    expect(messages.find((m) => m.role === 'user')?.content).toBe('who is ****? (mail ****, key ****)');
    expect(typeof (call.details as { text: string }).text).toBe('string');
    expect(sink.records.find((x) => x.action === 'run.completed')!.details).toHaveProperty('output');
    const all = JSON.stringify(sink.records);
    expect(all).not.toContain('ada@example.com');
    expect(all).not.toContain(SECRET);
  });

  it('records failed and cancelled runs with their error; ignores node, token and breaker events', () => {
    const error = { name: 'OrchestratorError', code: 'NODE_FAILED', message: 'boom', retriable: false, nodeId: 'a' };
    const usage = { inputTokens: 1, outputTokens: 2, cachedTokens: 0, reasoningTokens: 0, costUsd: 0.5, calls: 1 };
    expect(auditEntryOf({ type: 'run.failed', runId: 'r', topology: 't', seq: 3, ts: 9, error, usage })).toEqual({
      actor: 'engine', action: 'run.failed', ts: 9, runId: 'r', topology: 't', tenant: null, details: { usage, error: { code: 'NODE_FAILED', message: 'boom', nodeId: 'a' } },
    });
    expect(auditEntryOf({ type: 'run.cancelled', runId: 'r', topology: 't', seq: 3, ts: 9, error: { ...error, code: 'CANCELLED' } })?.details).toEqual({ error: { code: 'CANCELLED', message: 'boom', nodeId: 'a' } });
    expect(auditEntryOf({ type: 'node.started', runId: 'r', topology: 't', seq: 1, ts: 1, nodeId: 'a' })).toBeUndefined();
    expect(auditEntryOf({ type: 'node.token', runId: 'r', topology: 't', nodeId: 'a', index: 0, text: 'x', ts: 1 })).toBeUndefined();
    expect(auditEntryOf({ type: 'breaker.state', model: 'sim:fast', state: 'open', ts: 1 })).toBeUndefined();
  });

  it('a failing sink reaches onError and the log\'s health; a callback that throws still leaves a record saying why', async () => {
    const events = new Subject<EngineEvent>();
    const failing: AuditSink = { write: () => Promise.reject(new Error('broker down')) };
    const log = createAuditLog({ sink: failing });
    const errors: unknown[] = [];
    const sub = auditEvents(events, log, { onError: (e) => errors.push(e) });
    events.next({ type: 'run.started', runId: 'r', topology: 't', seq: 0, ts: 1, priority: 'normal' });
    await log.flush().catch(() => undefined);
    expect(errors).toEqual([expect.objectContaining({ code: 'AUDIT_SINK_FAILED' })]);
    expect(log.health()).toMatchObject({ status: 'down', failed: expect.any(Number) });
    sub.unsubscribe();

    const sink = createMemoryAuditSink();
    const log2 = createAuditLog({ sink });
    const errors2: unknown[] = [];
    const sub2 = auditEvents(events, log2, { tenantOf: () => { throw new Error('lookup failed'); }, onError: (e) => errors2.push(e) });
    events.next({ type: 'run.started', runId: 'r', topology: 't', seq: 0, ts: 1, priority: 'normal' });
    await log2.flush();
    sub2.unsubscribe();
    expect(errors2).toEqual([expect.objectContaining({ message: 'lookup failed' })]);
    expect(sink.records).toEqual([expect.objectContaining({ action: 'run.started', runId: 'r', details: { auditError: 'lookup failed' } })]);
  });

  it('refuses invalid options naming the field', () => {
    expect(() => auditEvents(new Subject<EngineEvent>(), createAuditLog({ sink: createMemoryAuditSink() }), { actor: '' })).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['options', 'actor'] })] }));
  });
});
