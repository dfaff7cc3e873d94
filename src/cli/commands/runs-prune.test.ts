import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../stores/open.ts';
import { EXIT, main } from '../main.ts';
import { cutOff } from './runs-prune.ts';

function capture() {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const dir = mkdtempSync(join(tmpdir(), 'llmo-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;

describe('llmo runs prune', () => {
  it('reads ages and ISO times as cut-offs, and nothing else', () => {
    const now = Date.UTC(2026, 11, 4);
    expect(cutOff('30d', now)).toBe(now - 30 * DAY);
    expect(cutOff('12h', now)).toBe(now - 12 * 3_600_000);
    expect(cutOff('90m', now)).toBe(now - 90 * 60_000);
    expect(cutOff('2w', now)).toBe(now - 14 * DAY);
    expect(cutOff('500', now)).toBe(now - 500);
    expect(cutOff('2026-11-01T00:00:00Z', now)).toBe(Date.UTC(2026, 10, 1));
    expect(cutOff('yesterday', now)).toBeUndefined();
    expect(cutOff('-3d', now)).toBeUndefined();
  });

  it('deletes the runs that ended before the cut-off, with their logs; parked and recent runs stay', async () => {
    const db = join(dir, 'runs.db');
    const store = await openStore(db);
    const t0 = Date.now() - 40 * DAY;
    const stored = async (runId: string, ts: number, end: Record<string, unknown>): Promise<void> => {
      await store.createRun({ runId, topology: 't', version: 'v', input: null, createdAt: ts, owner: 'o:1:x', leaseMs: 1_000, events: [{ runId, seq: 0, ts, type: 'run.started' }] });
      await store.append([{ runId, seq: 1, ts, ...end } as never]);
    };
    await stored('old-done', t0, { type: 'run.completed', output: 1 });
    await stored('old-failed', t0, { type: 'run.failed', error: { name: 'Error', code: 'X', message: 'x', retriable: false } });
    await stored('old-parked', t0, { type: 'run.waiting', nodeId: 'w', name: 'go' });
    await stored('new-done', Date.now(), { type: 'run.completed', output: 2 });
    await store.close();

    const bad = capture();
    expect(await main(['runs', 'prune', '--store', db, '--ended-before', 'soon'], bad.io)).toBe(EXIT.invalid);
    expect(bad.err()).toContain('--ended-before soon');
    const running = capture();
    expect(await main(['runs', 'prune', '--store', db, '--ended-before', '30d', '--status', 'waiting'], running.io)).toBe(EXIT.invalid);
    expect(running.err()).toContain('never pruned');

    const onlyFailed = capture();
    expect(await main(['runs', 'prune', '--store', db, '--ended-before', '30d', '--status', 'failed', '--json'], onlyFailed.io)).toBe(EXIT.ok);
    expect(JSON.parse(onlyFailed.out())).toMatchObject({ deleted: 1, status: ['failed'] });
    const rest = capture();
    expect(await main(['runs', 'prune', '--store', db, '--ended-before', '30d'], rest.io)).toBe(EXIT.ok);
    expect(rest.out()).toMatch(/^deleted 1 run\(s\) \(completed, failed, cancelled\) that ended before /);

    const after = await openStore(db);
    const left = (await after.listRuns()).runs.map((r) => r.runId).sort();
    expect(left).toEqual(['new-done', 'old-parked']);
    expect(await after.history('old-done').catch((e: unknown) => (e as { code?: string }).code)).toBe('RUN_NOT_FOUND');
    await after.close();
  });
});
