/**
 * The SQLite store across processes, on real files: a writer SIGKILLed at random moments
 * loses no acknowledged event and leaves no gap; two processes claiming from one file never
 * take the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite, tempDir } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('sqlite-kill');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.remove();
});

const payload = (runId: string, seq: number): string => `${runId}:${seq}:${'p'.repeat(seq % 7 * 100)}`;

/** Spawns the child fixture; `lines` gets every stdout line. */
function child(args: string[], onLine: (line: string) => void): { proc: ChildProcess; exited: Promise<void>; stderr: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/stores/sqlite-child.ts', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  let buf = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) onLine(l);
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { proc, exited, stderr: () => err };
}

/** Where a child process waits, from /proc (Linux): each thread's state, kernel wait channel and system call. */
function whereIs(proc: ChildProcess): string {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return 'exited';
  const read = (f: string): string => { try { return readFileSync(f, 'utf8').trim(); } catch { return '?'; } };
  try {
    return readdirSync(`/proc/${proc.pid}/task`).map((tid) => {
      const dir = `/proc/${proc.pid}/task/${tid}`;
      const state = /^State:\s*(.*)$/m.exec(read(`${dir}/status`))?.[1] ?? '?';
      return `${read(`${dir}/comm`)} ${tid}: ${state}, wchan ${read(`${dir}/wchan`)}, syscall ${read(`${dir}/syscall`).split(' ')[0]}`;
    }).join('; ');
  } catch {
    return 'unknown (no /proc)';
  }
}

function until(cond: () => boolean, what: string | (() => string), stderr: () => string, ms = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = (): void => {
      if (cond()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}; child stderr:\n${stderr()}`));
      setTimeout(check, 5);
    };
    check();
  });
}

describe('SQLite store across processes', () => {
  it('a writer SIGKILLed at random moments 6 times: every acknowledged event is kept, whole, and no log has a gap', async () => {
    const path = tmp.file('kill.db');
    const RUNS = 8;
    const acked = new Map<string, number>(); // highest acknowledged seq per run
    let total = 0;
    for (let round = 0; round < 6; round++) {
      let ready = false;
      let acks = 0;
      let lastAck = Date.now();
      const c = child(['append', path, String(RUNS)], (line) => {
        if (line === 'ready') ready = true;
        const m = /^ack (\S+) (\d+)$/.exec(line);
        if (m === null) return;
        const seq = Number(m[2]);
        if (seq > (acked.get(m[1] ?? '') ?? -1)) acked.set(m[1] ?? '', seq);
        acks++;
        lastAck = Date.now();
      });
      await until(() => ready, 'the writer to start', c.stderr);
      const target = 1 + Math.floor(Math.random() * 400);
      await until(() => acks >= target, () => `${target} acks (${acks} came, the last ${Date.now() - lastAck} ms ago; the writer: ${whereIs(c.proc)})`, c.stderr);
      await new Promise((r) => setTimeout(r, Math.random() * 15));
      c.proc.kill('SIGKILL');
      await c.exited;
      total += acks;

      const store = openSqlite({ path });
      for (const [runId, maxAcked] of acked) {
        const history = await store.history(runId);
        const row = await store.getRun(runId);
        expect(history.map((e) => e.seq)).toEqual(Array.from({ length: history.length }, (_, i) => i)); // no gap
        expect(history.length - 1).toBeGreaterThanOrEqual(maxAcked); // nothing acknowledged lost
        expect(row?.lastSeq).toBe(history.length - 1);
        for (const e of history) expect(e['output']).toBe(payload(runId, e.seq));
      }
      await store.close();
    }
    expect(total).toBeGreaterThan(6);
  });

  it('two processes claiming from one file at once never take the same run', async () => {
    const path = tmp.file('claims.db');
    const store = openSqlite({ path });
    const N = 600;
    await Promise.all(Array.from({ length: N }, (_, i) => store.createRun({ runId: `c${i}`, topology: 't', version: 'v', input: i, createdAt: 1, owner: 'gone', leaseMs: 0 })));
    await store.close();
    const claimed: Record<string, string[]> = { a: [], b: [] };
    const state: Record<string, { ready: boolean; done: boolean }> = { a: { ready: false, done: false }, b: { ready: false, done: false } };
    const procs = (['a', 'b'] as const).map((owner) => child(['claim', path, owner], (line) => {
      if (line === 'ready') state[owner]!.ready = true;
      if (line === 'done') state[owner]!.done = true;
      const m = /^claimed (\S+)$/.exec(line);
      if (m !== null) claimed[owner]!.push(m[1] ?? '');
    }));
    const stderr = (): string => procs.map((p) => p.stderr()).join('\n');
    await until(() => state['a']!.ready && state['b']!.ready, 'both claimers to start', stderr);
    for (const p of procs) p.proc.stdin?.write('go\n');
    await until(() => state['a']!.done && state['b']!.done, 'both claimers to finish', stderr);
    await Promise.all(procs.map((p) => p.exited));
    const all = [...claimed['a']!, ...claimed['b']!];
    expect(new Set(all).size).toBe(all.length); // never the same run twice
    expect(all.length).toBe(N); // and every run was taken
    // How the runs split between the two depends on scheduling (under load one may take them all); what
    // must hold whatever the split is above: no run twice, none left, and the file agrees with the claimers.
    const check = openSqlite({ path });
    for (const owner of ['a', 'b']) for (const id of claimed[owner]!) expect((await check.getRun(id))?.leaseOwner).toBe(owner);
    await check.close();
  });
});
