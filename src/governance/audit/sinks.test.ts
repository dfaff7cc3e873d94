// The JSONL file sink and reader: canonical lines appended (a reopened file keeps its lines and the
// chain continues from its heads), an unreadable line read back as text, open failures surfaced.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.ts';
import { createAuditLog } from './log.ts';
import { createJsonlAuditSink, readAuditFile } from './sinks.ts';
import { verifyAudit } from './verify.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llmo-audit-'));
});

describe('JSONL audit sink', () => {
  it('appends one canonical JSON record a line; a writer reopening the file continues its chains', async () => {
    const path = join(dir, 'audit.jsonl');
    const log = createAuditLog({ sink: createJsonlAuditSink(path), redact: false });
    const a = await log.append({ actor: 'w', action: 'run.started', runId: 'r-1', details: { z: 1, a: [1, 'x'] } });
    await log.append({ actor: 'w', action: 'run.started', tenant: 'acme' });
    await log.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(canonicalJson(a));
    expect(lines[0]).toMatch(/^\{"action":"run.started","actor":"w","details":\{"a":\[1,"x"\],"z":1\},"hash":"[0-9a-f]{64}"/);
    expect(lines[2]).toBe('');

    const before = verifyAudit(await readAuditFile(path));
    if (!before.ok) throw new Error('expected an intact file');
    const again = createAuditLog({ sink: createJsonlAuditSink(path), redact: false, heads: before.heads });
    expect((await again.append({ actor: 'w', action: 'run.completed', runId: 'r-1' })).seq).toBe(1);
    await again.flush();
    await again.close();
    expect(verifyAudit(await readAuditFile(path))).toMatchObject({ ok: true, count: 3, streams: 2 });
  });

  it('reads a line that is not JSON as its text (verification names it) and skips blank lines', async () => {
    const path = join(dir, 'broken.jsonl');
    await writeFile(path, '{"a":1}\n\nnot json\n');
    expect(await readAuditFile(path)).toEqual([{ a: 1 }, 'not json']);
    await expect(readAuditFile(join(dir, 'none.jsonl'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a file that cannot be opened fails the append (AUDIT_SINK_FAILED, caused by AUDIT_FILE_FAILED), and health says so', async () => {
    const log = createAuditLog({ sink: createJsonlAuditSink(join(dir, 'no', 'such', 'dir', 'audit.jsonl')) });
    const e = await log.append({ actor: 'w', action: 'a' }).then(() => undefined, (x: unknown) => x) as { code: string; cause: { code: string; message: string } };
    expect(e.code).toBe('AUDIT_SINK_FAILED');
    expect(e.cause.code).toBe('AUDIT_FILE_FAILED');
    expect(e.cause.message).toMatch(/^cannot open audit file .*audit\.jsonl: ENOENT/);
    expect(log.health()).toMatchObject({ status: 'down', failed: 1, pending: 1 });
  });
});
