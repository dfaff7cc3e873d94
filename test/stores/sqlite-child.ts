/**
 * Child process of test/stores/sqlite-kill.int.test.ts, on a real SQLite store file.
 *   append <path> <runs>   appends events to <runs> runs forever, printing `ack <runId> <seq>` for each acknowledged one
 *   claim <path> <owner>   after a `go` line on stdin, claims runs 3 at a time until none is left, printing `claimed <runId>`
 * Lines go to stdout, a pipe: an ack the parent reads was printed after its commit returned. A write the
 * pipe has no room for waits in this process until its event loop turns. The writer's appends resolve in
 * microtasks (the store commits synchronously), and its loop once never yielded: every later ack stayed
 * unsent once the parent fell a pipe's worth behind (4 KiB when the kernel's per-user pipe budget is spent,
 * as in CI: the parent saw 278 acks, ~4,096 bytes, then none). So it yields once per round, and waits for
 * the pipe to drain.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { openSqlite } from './support.ts';

const [mode, path, arg] = process.argv.slice(2);
if (path === undefined || arg === undefined) throw new Error('usage: sqlite-child.ts append|claim <path> <runs|owner>');
const store = openSqlite({ path, busyTimeoutMs: 30_000 });
const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** What every event of the log carries, so the parent can check it was kept whole. */
export const payload = (runId: string, seq: number): string => `${runId}:${seq}:${'p'.repeat(seq % 7 * 100)}`;

if (mode === 'append') {
  const runs = Number(arg);
  const next = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const runId = `run-${i}`;
    const row = await store.getRun(runId);
    if (row === undefined) await store.createRun({ runId, topology: 't', version: 'v', input: i, createdAt: Date.now(), owner: 'child', leaseMs: 60_000 });
    next.set(runId, (row?.lastSeq ?? -1) + 1);
  }
  say('ready');
  for (;;) {
    // Every run appends 1-3 events per round, all in one tick: one group commit per round.
    await Promise.all([...next].map(async ([runId, seq]) => {
      const n = 1 + ((seq + runId.length) % 3);
      const events = Array.from({ length: n }, (_, k) => ({ runId, seq: seq + k, ts: Date.now(), type: 'node.completed', nodeId: `n${seq + k}`, output: payload(runId, seq + k) }));
      next.set(runId, seq + n);
      const t0 = performance.now();
      await store.append(events);
      const ms = performance.now() - t0;
      if (ms > 1000) process.stderr.write(`slow append: ${Math.round(ms)} ms (${runId} ${seq})\n`);
      for (const e of events) say(`ack ${runId} ${e.seq}`);
    }));
    // Turn the event loop (queued acks go out), and wait while the parent is a pipe's worth behind.
    if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
    else await new Promise((r) => setImmediate(r));
  }
} else if (mode === 'claim') {
  say('ready');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  for (;;) {
    const got = await store.claim({ owner: arg, leaseMs: 600_000, limit: 3, now: Date.now() });
    if (got.length === 0) break;
    for (const r of got) say(`claimed ${r.runId}`);
    // Turn the event loop (queued acks go out), and wait while the parent is a pipe's worth behind.
    if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
    else await new Promise((r) => setImmediate(r));
  }
  await store.close();
  say('done');
  process.exit(0);
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
