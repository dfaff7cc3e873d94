// Audit records on the audit topic (memory transport): keyed by stream, v3 messages carrying the
// chain, read back from the beginning and verified; tampering in the topic is named; v2 messages
// (no chain) are counted apart.
import { describe, expect, it } from 'vitest';
import { createMemoryTransport } from '../../transports/index.ts';
import { auditFromMessage, auditToMessage, createKafkaAuditSink, readAuditTopic } from './kafka.ts';
import { createAuditLog } from './log.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { verifyAudit } from './verify.ts';

describe('audit topic', () => {
  it('sends records keyed by stream; reading the topic back verifies', async () => {
    const t = createMemoryTransport({ prefix: 'au' });
    const log = createAuditLog({ sink: createKafkaAuditSink(t) });
    for (let i = 0; i < 6; i++) await log.append({ actor: 'w-1', action: 'model.call', runId: `r-${i}`, tenant: i % 2 === 0 ? 'acme' : null, details: { costUsd: 0.001 * i, prompt: 'mail ada@example.com' } });
    const keys: string[] = [];
    t.read('audit', { fromBeginning: true }).subscribe((m) => keys.push(m.key)).unsubscribe();
    expect(keys).toEqual(['acme', 'global', 'acme', 'global', 'acme', 'global']);
    const read = await readAuditTopic(t);
    expect(read.unchained).toBe(0);
    expect(verifyAudit(read.records)).toMatchObject({ ok: true, count: 6, streams: 2 });
    expect(JSON.stringify(read.records)).not.toContain('ada@example.com');
  });

  it('a record changed on its way (or in the topic) is named modified; v2 messages without a chain are counted apart', async () => {
    const t = createMemoryTransport({ prefix: 'au' });
    const sink = createMemoryAuditSink();
    const log = createAuditLog({ sink });
    for (let i = 0; i < 4; i++) await log.append({ actor: 'w-1', action: 'run.started', runId: `r-${i}` });
    const messages = sink.records.map(auditToMessage);
    await t.send('audit', messages.map((m, i) => ({ key: 'global', value: i === 2 ? { ...m, runId: 'r-X' } : m })));
    await t.send('audit', [{ key: 'r-9', value: { ts: 1, actor: 'ops', action: 'cancel', runId: 'r-9', details: '{}', tenant: 'acme', requestId: null, topology: null } }]);
    const read = await readAuditTopic(t);
    expect(read.unchained).toBe(1);
    const v = verifyAudit(read.records);
    expect(!v.ok && v.problems).toEqual([expect.objectContaining({ kind: 'modified', stream: 'global', seq: 2, index: 2 })]);
  });

  it('a lone surrogate (cut emoji in a completion) is stored as U+FFFD, so the record read back from Avro still verifies', async () => {
    const t = createMemoryTransport({ prefix: 'au' });
    const log = createAuditLog({ sink: createKafkaAuditSink(t), redact: false });
    const r = await log.append({ actor: 'w\uD83D', action: 'model.call', details: { text: 'half \uD83D', ['k\uDE00']: 1 } });
    expect(r.actor).toBe('w\uFFFD');
    expect(r.details).toEqual({ text: 'half \uFFFD', 'k\uFFFD': 1 });
    expect(verifyAudit((await readAuditTopic(t)).records).ok).toBe(true);
  });

  it('round-trips a record through its message; details that are not JSON stay text (and fail verification)', async () => {
    const sink = createMemoryAuditSink();
    const r = await createAuditLog({ sink, redact: false }).append({ actor: 'a', action: 'admin.x', user: 'u', requestId: 'q', details: { b: [1.5, null], a: 'x' } });
    const m = auditToMessage(r);
    expect(m.details).toBe('{"a":"x","b":[1.5,null]}');
    expect(auditFromMessage(m)).toEqual(r);
    const broken = auditFromMessage({ ...m, details: '{"a":' });
    expect(broken?.details).toBe('{"a":');
    expect(verifyAudit([broken]).ok).toBe(false);
  });
});
