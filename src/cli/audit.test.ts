// `llmo audit verify`: a JSONL file (through main, so the command is registered as documented) and the
// audit topic (memory transport, at the function level): intact chains exit 0 with the counts, a flipped
// byte, a dropped or swapped record exit 1 naming it, bad usage and unreadable files exit 2.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openAuditStore } from '../governance/audit/store.ts';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditCommand } from './commands/audit.ts';
import { EXIT } from './exit.ts';
import { main } from './main.ts';
import { createAuditLog, createJsonlAuditSink, createKafkaAuditSink, createMemoryAuditSink, auditToMessage } from '../governance/audit/index.ts';
import type { KafkaTransport } from '../transports/kafka/index.ts';
import { createMemoryTransport } from '../transports/index.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

let dir = '';
let file = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llmo-audit-cli-'));
  file = join(dir, 'audit.jsonl');
  const log = createAuditLog({ sink: createJsonlAuditSink(file) });
  for (let i = 0; i < 8; i++) await log.append({ actor: 'worker-1', action: i % 2 === 0 ? 'run.started' : 'run.completed', runId: `r-${i >> 1}`, tenant: i < 4 ? 'acme' : null });
  await log.close();
});

const variant = async (name: string, change: (lines: string[]) => string[]): Promise<string> => {
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  const path = join(dir, name);
  await writeFile(path, `${change(lines).join('\n')}\n`);
  return path;
};

describe('llmo audit verify --file', () => {
  it('an intact file: ok with the counts, exit 0', async () => {
    const c = capture();
    expect(await main(['audit', 'verify', '--file', file], c.io), c.err()).toBe(EXIT.ok);
    expect(c.out()).toBe('ok: 8 records, 2 streams\n');
    const j = capture();
    expect(await main(['audit', 'verify', '--file', file, '--json'], j.io)).toBe(EXIT.ok);
    expect(JSON.parse(j.out())).toEqual({ ok: true, count: 8, streams: 2 });
  });

  it('flip one byte, drop one record, swap two: each named, exit 1', async () => {
    const flipped = await variant('flipped.jsonl', (l) => l.map((x, i) => (i === 5 ? x.replace('"actor":"worker-1"', '"actor":"worker-2"') : x)));
    const f = capture();
    expect(await main(['audit', 'verify', '--file', flipped], f.io)).toBe(1);
    expect(f.out()).toBe('modified: stream global, seq 1, index 5: global: record at index 5 (seq 1) was modified: its hash does not match its content\n');
    expect(f.err()).toContain('1 stream(s) of 2 have a problem (8 records read)');

    const dropped = await variant('dropped.jsonl', (l) => l.filter((_, i) => i !== 1));
    const d = capture();
    expect(await main(['audit', 'verify', '--file', dropped], d.io)).toBe(1);
    expect(d.out()).toBe('missing: stream acme, seq 1, index 1: acme: seq 1 is missing: the record at index 1 has seq 2\n');

    const swapped = await variant('swapped.jsonl', (l) => { const x = [...l]; [x[4], x[6]] = [x[6]!, x[4]!]; return x; });
    const s = capture();
    expect(await auditCommand('verify', { file: swapped, json: true }, s.io)).toBe(1);
    expect(JSON.parse(s.out())).toMatchObject({ ok: false, count: 8, problems: [{ kind: 'reordered', stream: 'global', seq: 0, index: 4 }] });
  });

  it('a missing file, or --file with --brokers, is invalid usage (exit 2)', async () => {
    const m = capture();
    expect(await main(['audit', 'verify', '--file', join(dir, 'none.jsonl')], m.io)).toBe(EXIT.invalid);
    expect(m.err()).toMatch(/^llmo: --file: cannot read .*none\.jsonl: ENOENT/);
    const b = capture();
    expect(await auditCommand('verify', { file, brokers: '127.0.0.1:9092' }, b.io)).toBe(EXIT.invalid);
    expect(b.err()).toBe('llmo: audit verify: give one of --file, --store or the Kafka flags (--brokers, --kafka-config)\n');
    const s = capture();
    expect(await auditCommand('verify', { file, store: join(dir, 'runs.db') }, s.io)).toBe(EXIT.invalid);
  });

  it('--store verifies the audit table of a run store database, naming a record changed with SQL', async () => {
    const url = join(dir, 'audit-store.db');
    const store = await openAuditStore(url);
    const log = createAuditLog({ sink: store });
    for (let k = 0; k < 3; k++) await log.append({ actor: 'ops', action: 'admin.cancel', runId: `r${k}` });
    await log.close();
    const ok = capture();
    expect(await main(['audit', 'verify', '--store', url], ok.io), ok.err()).toBe(EXIT.ok);
    expect(ok.out()).toBe('ok: 3 records, 1 streams\n');
    const db = new Database(url);
    db.prepare(`UPDATE llmo_audit SET record = replace(record, 'r1', 'r9') WHERE seq = 1`).run();
    db.close();
    const bad = capture();
    expect(await main(['audit', 'verify', '--store', url], bad.io)).toBe(EXIT.runFailed);
    expect(bad.out()).toMatch(/^modified: stream global, seq 1/);
  });
});

describe('llmo audit verify (audit topic)', () => {
  const memory = (): KafkaTransport => Object.assign(createMemoryTransport({ prefix: 'at' }), { ensureTopics: async () => undefined, close: async () => undefined });
  const flags = { brokers: '127.0.0.1:9092', prefix: 'at' };

  it('reads the topic from the beginning: intact exit 0; a tampered message exit 1; pre-v3 messages counted apart', async () => {
    const transport = memory();
    const open = () => ({ ok: true as const, transport });
    const log = createAuditLog({ sink: createKafkaAuditSink(transport) });
    for (let i = 0; i < 5; i++) await log.append({ actor: 'w', action: 'model.call', tenant: i % 2 === 0 ? 'acme' : 'zeta', details: { costUsd: i } });
    await transport.send('audit', [{ key: 'r-1', value: { ts: 1, actor: 'ops', action: 'cancel', runId: 'r-1', details: '{}' } }]);
    const ok = capture();
    expect(await auditCommand('verify', flags, ok.io, open), ok.err()).toBe(EXIT.ok);
    expect(ok.out()).toBe('ok: 5 records, 2 streams\n');
    expect(ok.err()).toContain('1 message(s) in at.audit belong to no hash chain');

    const other = memory();
    const sink = createMemoryAuditSink();
    const l2 = createAuditLog({ sink });
    for (let i = 0; i < 3; i++) await l2.append({ actor: 'w', action: 'run.started', runId: `r-${i}` });
    await other.send('audit', sink.records.map((r, i) => ({ key: r.stream, value: i === 1 ? { ...auditToMessage(r), ts: r.ts + 1 } : auditToMessage(r) })));
    const bad = capture();
    expect(await auditCommand('verify', flags, bad.io, () => ({ ok: true as const, transport: other }))).toBe(1);
    expect(bad.out()).toMatch(/^modified: stream global, seq 1, index 1: /);
  });
});
