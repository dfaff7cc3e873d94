// createAuditLog: numbering and chaining per stream in call order (also under concurrent appends and
// a slow sink), PII redaction on by default, a failing sink surfaced (rejection, health, counter) and
// its records written again in order, a bounded backlog, validation naming fields, resuming from heads.
import { describe, expect, it } from 'vitest';
import { createPiiRedactor } from '../pii/index.ts';
import { createAuditLog } from './log.ts';
import type { AuditSink } from './types.ts';
import { AUDIT_GENESIS, type AuditRecord } from './record.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { verifyAudit } from './verify.ts';

const clock = (): (() => number) => { let t = 1_000; return () => t++; };

/** A sink whose writes wait until released, recording batch sizes and concurrent writes. */
function gatedSink() {
  const records: AuditRecord[] = [];
  const batches: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let fail: Error | undefined;
  const waiting: (() => void)[] = [];
  const sink: AuditSink = {
    async write(batch) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => waiting.push(r));
      inFlight--;
      if (fail !== undefined) throw fail;
      batches.push(batch.length);
      records.push(...batch);
    },
  };
  return {
    sink, records, batches,
    maxInFlight: () => maxInFlight,
    failWith: (e: Error | undefined) => { fail = e; },
    release: async () => { while (waiting.length > 0) { waiting.shift()!(); await new Promise((r) => setImmediate(r)); } },
  };
}

describe('createAuditLog', () => {
  it('numbers records per stream from 0 and chains each to the previous hash; stream = explicit, else tenant, else global', async () => {
    const sink = createMemoryAuditSink();
    const log = createAuditLog({ sink, clock: clock(), redact: false });
    const a = await log.append({ actor: 'w-1', action: 'run.started', runId: 'r-1' });
    const b = await log.append({ actor: 'w-1', action: 'run.started', runId: 'r-2', tenant: 'acme' });
    const c = await log.append({ actor: 'w-1', action: 'run.completed', runId: 'r-1' });
    const d = await log.append({ actor: 'ops', action: 'admin.cancel', stream: 'ops', tenant: 'acme' });
    expect([a, b, c, d].map((r) => [r.stream, r.seq])).toEqual([['global', 0], ['acme', 0], ['global', 1], ['ops', 0]]);
    expect(a).toMatchObject({ ts: 1_000, actor: 'w-1', action: 'run.started', runId: 'r-1', tenant: null, topology: null, user: null, requestId: null, details: {}, prevHash: AUDIT_GENESIS });
    expect(c.prevHash).toBe(a.hash);
    expect(sink.records).toEqual([a, b, c, d]);
    expect(verifyAudit(sink.records)).toMatchObject({ ok: true, count: 4, streams: 3 });
    expect(log.heads()).toEqual({ global: { seq: 1, hash: c.hash }, acme: { seq: 0, hash: b.hash }, ops: { seq: 0, hash: d.hash } });
    const custom = createAuditLog({ sink: createMemoryAuditSink(), streamOf: (e) => `topology:${e.topology ?? '-'}` });
    expect((await custom.append({ actor: 'a', action: 'x', topology: 'qa' })).stream).toBe('topology:qa');
  });

  it('concurrent appends stay in call order per stream, and the sink gets one write at a time, in batches', async () => {
    const g = gatedSink();
    const log = createAuditLog({ sink: g.sink, clock: clock(), redact: false });
    const all = Array.from({ length: 100 }, (_, i) => log.append({ actor: 'w', action: 'model.call', tenant: i % 3 === 0 ? 'acme' : null, details: { i } }));
    expect(log.health()).toMatchObject({ status: 'up', pending: 100, written: 0 });
    await g.release();
    const records = await Promise.all(all);
    expect(g.maxInFlight()).toBe(1);
    expect(g.batches).toEqual([1, 99]); // the first write took what was there; the rest waited for it
    expect(g.records.map((r) => (r.details as { i: number }).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(records.filter((r) => r.stream === 'acme').map((r) => r.seq)).toEqual(Array.from({ length: 34 }, (_, i) => i));
    expect(verifyAudit(g.records).ok).toBe(true);
    expect(log.health()).toEqual({ status: 'up', written: 100, pending: 0, failed: 0 });
  });

  it('redacts PII in actor, user and details by default (mask); keeps it with redact: false; takes a redactor', async () => {
    const secret = { email: 'ada@example.com', card: '4111 1111 1111 1111', key: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD' };
    const entry = { actor: 'ada@example.com', user: 'ada@example.com', action: 'model.call', details: { prompt: `mail ${secret.email}, card ${secret.card}`, args: [{ apiKey: secret.key }] } };
    const sink = createMemoryAuditSink();
    const r = await createAuditLog({ sink }).append(entry);
    const text = JSON.stringify(r);
    for (const s of Object.values(secret)) expect(text).not.toContain(s);
    expect(r.actor).toBe('****');
    expect((r.details as { prompt: string }).prompt).toBe('mail ****, card ****');
    expect(verifyAudit([r]).ok).toBe(true); // the hash covers what was stored (redacted)
    const plain = await createAuditLog({ sink: createMemoryAuditSink(), redact: false }).append(entry);
    expect(JSON.stringify(plain)).toContain(secret.email);
    const hashed = await createAuditLog({ sink: createMemoryAuditSink(), redact: createPiiRedactor({ mode: 'hash', key: 'k'.repeat(16) }) }).append(entry);
    expect(hashed.actor).toMatch(/^<EMAIL:[0-9a-f]{12}>$/);
    expect(hashed.user).toBe(hashed.actor); // equal values, equal tokens: who did what stays joinable
  });

  it('a failing sink: the appends it was writing reject, health is down with the count and error; the records are written again, in order, by the next append', async () => {
    const g = gatedSink();
    const log = createAuditLog({ sink: g.sink, clock: clock(), redact: false });
    g.failWith(new Error('disk full'));
    const first = log.append({ actor: 'w', action: 'a', details: { n: 0 } });
    const outcome = first.then(() => 'resolved', (e: unknown) => e);
    await g.release();
    expect(await outcome).toMatchObject({ code: 'AUDIT_SINK_FAILED', message: 'audit sink failed: disk full', retriable: true });
    expect(log.health()).toEqual({ status: 'down', written: 0, pending: 1, failed: 1, lastError: 'disk full' });
    g.failWith(undefined);
    const second = log.append({ actor: 'w', action: 'a', details: { n: 1 } });
    await g.release();
    expect(await second).toMatchObject({ seq: 1 });
    expect(g.records.map((r) => r.seq)).toEqual([0, 1]);
    expect(verifyAudit(g.records).ok).toBe(true);
    expect(log.health()).toEqual({ status: 'up', written: 2, pending: 0, failed: 1 });
  });

  it('flush and close reject when the sink fails; appends after close reject', async () => {
    const failing: AuditSink = { write: () => Promise.reject(new Error('broker down')) };
    const log = createAuditLog({ sink: failing, redact: false });
    await expect(log.append({ actor: 'w', action: 'a' })).rejects.toMatchObject({ code: 'AUDIT_SINK_FAILED' });
    await expect(log.flush()).rejects.toMatchObject({ code: 'AUDIT_SINK_FAILED', message: 'audit sink failed: broker down' });
    await expect(log.close()).rejects.toMatchObject({ code: 'AUDIT_SINK_FAILED' });
    expect(log.health()).toMatchObject({ status: 'down', failed: 3, pending: 1 });
    const flushFails = createAuditLog({ sink: { write: async () => undefined, flush: () => Promise.reject(new Error('fsync: EIO')) } });
    await expect(flushFails.flush()).rejects.toMatchObject({ code: 'AUDIT_SINK_FAILED', message: 'audit sink failed: fsync: EIO' });
    const ok = createAuditLog({ sink: createMemoryAuditSink() });
    await ok.close();
    await expect(ok.append({ actor: 'w', action: 'a' })).rejects.toMatchObject({ code: 'AUDIT_LOG_CLOSED' });
  });

  it('refuses appends beyond maxPending without numbering them (no gap in the chain)', async () => {
    const g = gatedSink();
    const log = createAuditLog({ sink: g.sink, maxPending: 2, redact: false });
    const a = log.append({ actor: 'w', action: 'a' });
    const b = log.append({ actor: 'w', action: 'a' });
    await expect(log.append({ actor: 'w', action: 'a' })).rejects.toMatchObject({ code: 'AUDIT_BACKLOG_FULL', retriable: true });
    await g.release();
    await Promise.all([a, b]);
    const c = log.append({ actor: 'w', action: 'a' });
    await g.release();
    expect((await c).seq).toBe(2);
    expect(verifyAudit(g.records).ok).toBe(true);
  });

  it('validates entries and options, naming the field', async () => {
    const log = createAuditLog({ sink: createMemoryAuditSink() });
    await expect(log.append({ actor: '', action: 'a' })).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID', issues: [expect.objectContaining({ path: ['entry', 'actor'] })] });
    await expect(log.append({ actor: 'w', action: 'a', details: { cost: Number.NaN } })).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID', issues: [expect.objectContaining({ path: ['entry', 'details', 'cost'] })] });
    await expect(createAuditLog({ sink: createMemoryAuditSink(), streamOf: () => '' }).append({ actor: 'w', action: 'a' })).rejects.toMatchObject({ code: 'AUDIT_ENTRY_INVALID' });
    expect(() => createAuditLog({ sink: {} as AuditSink })).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID', issues: [expect.objectContaining({ path: ['options', 'sink'] })] }));
    expect(() => createAuditLog({ sink: createMemoryAuditSink(), maxPending: 0 })).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: ['options', 'maxPending'] })] }));
    expect(() => createAuditLog({ sink: createMemoryAuditSink(), heads: { global: { seq: 1, hash: 'nope' } } })).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: ['options', 'heads', 'global', 'hash'] })] }));
    expect(log.health().written).toBe(0);
  });

  it('continues existing chains from their heads (a restarted writer)', async () => {
    const sink = createMemoryAuditSink();
    const before = createAuditLog({ sink, redact: false });
    await before.append({ actor: 'w', action: 'a' });
    await before.append({ actor: 'w', action: 'a', tenant: 'acme' });
    const v = verifyAudit(sink.records);
    if (!v.ok) throw new Error('expected an intact log');
    const after = createAuditLog({ sink, redact: false, heads: v.heads });
    expect((await after.append({ actor: 'w', action: 'a' })).seq).toBe(1);
    expect(verifyAudit(sink.records)).toMatchObject({ ok: true, count: 3 });
  });
});
