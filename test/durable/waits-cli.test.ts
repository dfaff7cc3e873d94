import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EXIT, main } from '../../src/cli/main.ts';
import { openStore } from '../../src/stores/open.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import slowPinned from '../fixtures/slow-pinned.ts';

function capture(): { io: { out: Writable; err: Writable; color: boolean; env: Record<string, string> }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _e, cb) { f(chunk.toString()); cb(); } });
  return { io: { out: sink((s) => { out += s; }), err: sink((s) => { err += s; }), color: false, env: {} }, out: () => out, err: () => err };
}

const dir = mkdtempSync(join(tmpdir(), 'llmo-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('llmo signal and llmo runs state', () => {
  it('llmo run parks the approval demo, llmo runs state shows it at any seq, llmo signal finishes it', async () => {
    const db = join(dir, 'runs.db');
    const run = capture();
    expect(await main(['run', 'topologies/approval.ts', '--store', db, '--input', '{"topic":"RxJS"}'], run.io)).toBe(EXIT.ok);
    const runId = /llmo signal (\S+) approval/.exec(run.err())?.[1];
    expect(runId, run.err()).toBeDefined();

    const at = capture();
    expect(await main(['runs', 'state', runId!, '--seq', '2', '--store', db, '--json'], at.io)).toBe(EXIT.ok);
    const s2 = JSON.parse(at.out()) as { status: string; lastSeq: number; nodes: Record<string, { status: string }> };
    expect(s2).toMatchObject({ status: 'running', lastSeq: 2, nodes: { draft: { status: 'completed' } } });
    const now = capture();
    expect(await main(['runs', 'state', runId!, '--store', db, '--json'], now.io)).toBe(EXIT.ok);
    expect(JSON.parse(now.out())).toMatchObject({ status: 'waiting' });
    // runs show says what the run waits for and how to resume it
    const show = capture();
    expect(await main(['runs', 'show', runId!, '--store', db], show.io)).toBe(EXIT.ok);
    expect(show.out()).toContain(`waits for signal 'approval' at node 'approve'`);
    expect(show.out()).toMatch(/\n {2}approve +waiting\n/);
    expect(show.out()).toContain(`; resume with: llmo signal ${runId} approval <topology-file> --payload <json> --store ${db}\n`);

    expect(show.out()).toContain(`or cancel it: llmo cancel ${runId} <topology-file> --store ${db}\n`);

    const bad = capture();
    expect(await main(['signal', runId!, 'approval', 'topologies/approval.ts', '--store', db, '--payload', '{"approved":"yes","by":"ana"}'], bad.io)).toBe(EXIT.runFailed);
    expect(bad.err()).toContain('SIGNAL_INVALID');
    expect(bad.err()).toContain('payload.approved');

    const ok = capture();
    expect(await main(['signal', runId!, 'approval', 'topologies/approval.ts', '--store', db, '--payload', '{"approved":true,"by":"ana"}'], ok.io)).toBe(EXIT.ok);
    expect(ok.out()).toContain('published (approved by ana)');
  });

  it('llmo cancel cancels a parked run with a reason; a second cancel and a late signal are refused (exit 1)', async () => {
    const db = join(dir, 'cancel.db');
    const run = capture();
    expect(await main(['run', 'topologies/approval.ts', '--store', db, '--input', '{"topic":"zod"}'], run.io)).toBe(EXIT.ok);
    const runId = /llmo signal (\S+) approval/.exec(run.err())?.[1];
    expect(runId, run.err()).toBeDefined();
    const usage = capture();
    expect(await main(['cancel', runId!, '--store', db], usage.io)).toBe(EXIT.invalid);
    const cancel = capture();
    expect(await main(['cancel', runId!, 'topologies/approval.ts', '--store', db, '--reason', 'the topic was dropped'], cancel.io)).toBe(EXIT.ok);
    expect(cancel.err()).toContain(`${runId} (approval) cancelled: run cancelled: the topic was dropped`);
    const again = capture();
    expect(await main(['cancel', runId!, 'topologies/approval.ts', '--store', db], again.io)).toBe(EXIT.runFailed);
    expect(again.err()).toContain('RUN_NOT_CANCELLABLE');
    const late = capture();
    expect(await main(['signal', runId!, 'approval', 'topologies/approval.ts', '--store', db, '--payload', '{"approved":true,"by":"ana"}'], late.io)).toBe(EXIT.runFailed);
    expect(late.err()).toContain('RUN_NOT_WAITING');
    const show = capture();
    expect(await main(['runs', 'show', runId!, '--store', db], show.io)).toBe(EXIT.ok);
    expect(show.out()).toContain('· cancelled');
    expect(show.out()).toContain('error: ');
  });

  it('llmo runs show says when a running run has a cancel request its holder has not acted on yet', async () => {
    const db = join(dir, 'asked.db');
    const store = await openStore(db);
    await store.createRun({ runId: 'busy', topology: 't', version: 'v', input: null, createdAt: Date.now(), owner: 'elsewhere:1:a', leaseMs: 60_000, events: [{ runId: 'busy', seq: 0, ts: Date.now(), type: 'run.started' }] });
    await store.requestCancel!({ runId: 'busy', reason: 'runaway', at: Date.UTC(2026, 11, 4, 12) });
    await store.close();
    const show = capture();
    expect(await main(['runs', 'show', 'busy', '--store', db], show.io)).toBe(EXIT.ok);
    expect(show.out()).toContain('cancel requested 2026-12-04T12:00:00.000Z (runaway): its holder cancels it at its next lease renewal\n');
  });

  it('llmo cancel --wait asks the process holding a run and waits until it has ended', async () => {
    const db = join(dir, 'held.db');
    const store = await openStore(db);
    const holder = createEngine({ store, durable: { owner: 'elsewhere:9:h', leaseMs: 90 } });
    const pending = holder.run(slowPinned, undefined, { runId: 'held-1' });
    await vi.waitFor(async () => expect((await store.getRun('held-1'))?.lastSeq).toBeGreaterThanOrEqual(3));
    const cancel = capture();
    expect(await main(['cancel', 'held-1', 'test/fixtures/slow-pinned.ts', '--store', db, '--reason', 'runaway', '--wait'], cancel.io)).toBe(EXIT.ok);
    expect(cancel.err()).toContain('cancellation requested of elsewhere:9:h; waiting for run');
    expect(cancel.err()).toContain('held-1 (slow-pinned) cancelled: run cancelled: runaway');
    expect(await pending).toMatchObject({ status: 'cancelled' });
    await holder.shutdown();
    await store.close();
  });
});
