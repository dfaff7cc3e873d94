import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../runtime/events.ts';
import { RunChannel } from './channel.ts';
import { idOf, type Frame } from './frame.ts';

const ev = (e: Record<string, unknown>): EngineEvent => ({ runId: 'r', topology: 't', ts: 1, ...e }) as unknown as EngineEvent;
const ids = (fs: readonly Frame[]): string[] => fs.map((f) => idOf(f.at));

describe('RunChannel', () => {
  it('numbers tokens after the last stored event, ignores child runs, duplicates and bus-only events', () => {
    const live = new Subject<EngineEvent>();
    const ch = new RunChannel('r', -1, { frames: 100, bytes: 1 << 20 });
    let completed = false;
    ch.attach(live, () => { completed = true; });
    live.next(ev({ type: 'run.started', seq: 0 }));
    live.next(ev({ type: 'node.started', seq: 1, nodeId: 'a' }));
    live.next(ev({ type: 'node.token', nodeId: 'a', index: 0, text: 'x' }));
    live.next(ev({ type: 'model.call', nodeId: 'a' }));
    live.next(ev({ type: 'node.started', seq: 0, runId: 'child', parentRunId: 'r' }));
    live.next(ev({ type: 'node.token', nodeId: 'a', index: 1, text: 'y' }));
    live.next(ev({ type: 'node.started', seq: 1, nodeId: 'a' }));
    live.next(ev({ type: 'node.completed', seq: 2, nodeId: 'a' }));
    expect(ids(ch.framesAfter({ seq: -1, n: -1 }))).toEqual(['0', '1', '1:0', '1:1', '2']);
    expect(ids(ch.framesAfter({ seq: 1, n: 0 }))).toEqual(['1:1', '2']);
    expect(ch.serialized).toBe(0); // nobody asked for bytes yet
    live.complete();
    expect(completed).toBe(true);
    expect(ch.subscribed).toBe(false);
  });

  it('keeps a bounded ring and knows when a resume point fell out of it', () => {
    const live = new Subject<EngineEvent>();
    const ch = new RunChannel('r', 3, { frames: 4, bytes: 1 << 20 });
    ch.attach(live, () => undefined);
    for (let i = 0; i < 10; i++) live.next(ev({ type: 'node.token', nodeId: 'a', index: i, text: 't' }));
    expect(ids(ch.framesAfter({ seq: -1, n: -1 }))).toEqual(['3:6', '3:7', '3:8', '3:9']);
    expect(ch.lostAfter({ seq: 3, n: 4 })).toBe(true);
    expect(ch.lostAfter({ seq: 3, n: 5 })).toBe(false);
    expect(ch.last).toEqual({ seq: 3, n: 9 });
  });

  it('serializes each event once and writes the same Buffer to every client', () => {
    const live = new Subject<EngineEvent>();
    const ch = new RunChannel('r', -1, { frames: 100, bytes: 1 << 20 });
    ch.attach(live, () => undefined);
    const got: Buffer[][] = [];
    for (let i = 0; i < 50; i++) {
      const mine: Buffer[] = [];
      got.push(mine);
      ch.clients.add({ send: (f: Frame) => { mine.push(f.bytes); } } as never);
    }
    live.next(ev({ type: 'run.started', seq: 0 }));
    live.next(ev({ type: 'node.token', nodeId: 'a', index: 0, text: 'x' }));
    expect(ch.serialized).toBe(2);
    for (const mine of got) {
      expect(mine).toHaveLength(2);
      expect(mine[0]).toBe(got[0]![0]);
      expect(mine[1]).toBe(got[0]![1]);
    }
  });
});

describe('RunChannel gaps', () => {
  it('reads stored events a watched channel missed before publishing the live event after them, holding live events meanwhile', async () => {
    const live = new Subject<EngineEvent>();
    const reads: [number, number][] = [];
    const ch = new RunChannel('r', 1, { frames: 100, bytes: 1 << 20 }, async (fromSeq, toSeq) => {
      reads.push([fromSeq, toSeq]);
      return Array.from({ length: toSeq - fromSeq + 1 }, (_, i) => ({ runId: 'r', seq: fromSeq + i, ts: 1, type: 'node.completed' }));
    });
    let completed = false;
    ch.attach(live, () => { completed = true; });
    const got: string[] = [];
    ch.clients.add({ send: (f: Frame) => { got.push(`${idOf(f.at)} ${f.type}`); } } as never);
    live.next(ev({ type: 'node.started', seq: 4, nodeId: 'b' }));
    live.next(ev({ type: 'node.token', nodeId: 'b', index: 0, text: 'x' }));
    live.complete();
    expect(completed).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual([[2, 3]]);
    expect(got).toEqual(['2 node.completed', '3 node.completed', '4 node.started', '4:0 node.token']);
    expect(completed).toBe(true);
  });

  it('does not read the store for a channel nobody watches (a client catches up from the store itself)', () => {
    const live = new Subject<EngineEvent>();
    let reads = 0;
    const ch = new RunChannel('r', -1, { frames: 100, bytes: 1 << 20 }, async () => { reads++; return []; });
    ch.attach(live, () => undefined);
    live.next(ev({ type: 'run.started', seq: 7 }));
    expect(reads).toBe(0);
    expect(ids(ch.framesAfter({ seq: -1, n: -1 }))).toEqual(['7']);
  });
});
