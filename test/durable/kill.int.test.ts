/**
 * Kill test: a child process runs 1,000 durable runs of a ten-node topology on a real
 * SQLite file and is SIGKILLed at random moments 20 times, each time restarted to
 * recover and go on. Afterwards every run completed exactly once with the outputs of an
 * uninterrupted in-process reference, no node has two node.completed events, and no node
 * function was called in an incarnation that started after the node was recorded completed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/runtime/engine.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import { createSqliteStore } from '../../src/stores/sqlite/store.ts';
import { tenNodes } from './fixtures/ten.ts';

const TOTAL = 1000;
const KILLS = 20;
const IN_FLIGHT = 4;
const dir = mkdtempSync(join(tmpdir(), 'llmo-kill-'));
const db = join(dir, 'runs.db');
const callsFile = join(dir, 'calls.txt');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small seeded generator: the kill moments are random but reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function start(incarnation: number): { child: ChildProcess; ready: Promise<string>; exit: Promise<{ code: number | null; signal: string | null; out: string; err: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/durable/fixtures/kill-child.ts', db, callsFile, String(incarnation), String(TOTAL), String(IN_FLIGHT)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: (line: string) => void = () => undefined;
  const ready = new Promise<string>((r) => { onReady = r; });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const line = out.split('\n').find((l) => l.startsWith('ready') || l === 'done');
    if (line !== undefined) onReady(line);
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
    child.on('exit', (code, signal) => {
      onReady('exited');
      resolve({ code, signal, out, err });
    });
  });
  return { child, ready, exit };
}

/** Per run, the nodes recorded completed in the store now. */
async function completedNodes(): Promise<Map<string, Set<string>>> {
  const store = createSqliteStore({ path: db });
  const out = new Map<string, Set<string>>();
  for (let i = 0; i < TOTAL; i++) {
    const id = `k${i}`;
    if ((await store.getRun(id)) === undefined) continue;
    out.set(id, new Set(Object.keys(foldRun(await store.history(id)).outputs)));
  }
  await store.close();
  return out;
}

describe('kill -9 and recover, 20 times', () => {
  it('completes every run exactly once, with the reference outputs, and never calls a node recorded completed', async () => {
    writeFileSync(callsFile, '');
    const random = rng(20261203);
    // what each incarnation found completed when it started
    const completedAtStart: Map<string, Set<string>>[] = [new Map()];
    let kills = 0;
    for (let k = 0; k < KILLS; k++) {
      const c = start(k);
      const line = await c.ready;
      expect(line, `incarnation ${k} ended before it was killed`).toMatch(/^ready/);
      await new Promise((r) => setTimeout(r, 30 + Math.floor(random() * 250)));
      c.child.kill('SIGKILL');
      const ended = await c.exit;
      expect(ended.signal, `incarnation ${k} exited by itself: ${ended.err}`).toBe('SIGKILL');
      kills++;
      completedAtStart.push(await completedNodes());
    }
    const last = start(KILLS);
    const ended = await last.exit;
    expect(ended.err).toBe('');
    expect(ended.code).toBe(0);
    expect(kills).toBe(KILLS);

    // the uninterrupted reference, in process, no store
    const reference = createEngine();
    const t = tenNodes(() => undefined, 0);
    const expected = await Promise.all(Array.from({ length: TOTAL }, (_, i) => reference.run(t, { i })));
    await reference.shutdown();

    const store = createSqliteStore({ path: db });
    const rows = [];
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await store.listRuns({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      rows.push(...page.runs);
      cursor = page.next;
    }
    expect(rows.length).toBe(TOTAL);
    let resumed = 0;
    for (let i = 0; i < TOTAL; i++) {
      const id = `k${i}`;
      const rec = await store.getRun(id);
      expect(rec?.status, id).toBe('completed');
      expect(rec?.output, id).toEqual(expected[i]!.output);
      const log = await store.history(id);
      expect(log.map((e) => e.seq), id).toEqual(log.map((_, s) => s));
      expect(log.filter((e) => e.type === 'run.completed').length, id).toBe(1);
      const done = log.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
      expect(new Set(done).size, `${id}: a node completed twice`).toBe(done.length);
      resumed += log.filter((e) => e.type === 'node.resumed').length;
      expect(foldRun(log).outputs, id).toEqual(expected[i]!.outputs);
    }
    await store.close();
    expect(resumed).toBeGreaterThan(0); // the kills did land mid-run

    // no node function was called by an incarnation that started with the node recorded completed
    const violations: string[] = [];
    for (const line of readFileSync(callsFile, 'utf8').split('\n')) {
      if (line === '') continue;
      const [inc, runId, nodeId] = line.split(' ') as [string, string, string];
      if (completedAtStart[Number(inc)]?.get(runId)?.has(nodeId) === true) violations.push(line);
    }
    expect(violations).toEqual([]);
  }, 180_000);
});
