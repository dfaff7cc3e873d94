import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { StreamClient, type CloseReason } from './client.ts';
import { eventFrame } from './frame.ts';

/** A response whose socket takes writes while `open`, then reports backpressure until `drain()`. */
function fakeResponse(): { res: ServerResponse; written: string[]; open: boolean; drain(): void; destroyed: boolean; ended: boolean } {
  const ee = new EventEmitter();
  const state = {
    written: [] as string[], open: true, destroyed: false, ended: false,
    drain() { state.open = true; ee.emit('drain'); },
    res: Object.assign(ee, {
      write(b: Buffer) { state.written.push(b.toString()); return state.open; },
      end() { state.ended = true; },
      cork() { /* batching only */ },
      uncork() { /* batching only */ },
      destroy() { state.destroyed = true; ee.emit('close'); },
    }) as unknown as ServerResponse,
  };
  return state;
}

const frame = (seq: number, n: number, size = 10) => eventFrame({ type: 'node.token', text: 'x'.repeat(size) } as { type: string }, { seq, n });

describe('StreamClient', () => {
  it('writes while the socket takes data, queues once it does not, and flushes in order on drain', () => {
    const f = fakeResponse();
    const c = new StreamClient(f.res, { runId: 'r', keyId: 'k', limitBytes: 1000 });
    c.send(frame(1, 0));
    f.open = false;
    c.send(frame(1, 1)); // accepted by the socket, which now reports backpressure
    c.send(frame(1, 2));
    c.send(frame(1, 3));
    expect(f.written).toHaveLength(2);
    expect(c.queuedBytes).toBeGreaterThan(0);
    f.drain();
    expect(f.written.map((w) => /^id: (\S+)/.exec(w)![1])).toEqual(['1:0', '1:1', '1:2', '1:3']);
    expect(c.queuedBytes).toBe(0);
  });

  it('skips frames at or before its position (stored and live events overlap)', () => {
    const f = fakeResponse();
    const c = new StreamClient(f.res, { runId: 'r', keyId: 'k', limitBytes: 1000 });
    c.send(frame(2, -1));
    c.send(frame(1, 4));
    c.send(frame(2, -1));
    c.send(frame(2, 0));
    expect(f.written.map((w) => /^id: (\S+)/.exec(w)![1])).toEqual(['2', '2:0']);
  });

  it('drops a client whose queue passes the limit (not counting the oldest frame queued) and says why once', () => {
    const f = fakeResponse();
    const why: [CloseReason, number][] = [];
    const c = new StreamClient(f.res, { runId: 'r', keyId: 'k', limitBytes: 200 });
    c.onClose((w, q) => why.push([w, q]));
    f.open = false;
    c.send(frame(1, 0));
    c.send(frame(1, 1, 5000)); // one event larger than the limit alone does not drop it
    expect(c.closed).toBe(false);
    c.send(frame(1, 2, 100));
    c.send(frame(1, 3, 100));
    expect(c.closed).toBe(true);
    expect(f.destroyed).toBe(true);
    expect(why).toHaveLength(1);
    expect(why[0]![0]).toBe('dropped');
    expect(why[0]![1]).toBeGreaterThan(5200);
    expect(c.queuedBytes).toBe(0);
    c.send(frame(1, 4));
    expect(f.written).toHaveLength(1);
  });

  it('ends after what is queued, and reports a disconnect', () => {
    const f = fakeResponse();
    const c = new StreamClient(f.res, { runId: 'r', keyId: 'k', limitBytes: 1000 });
    f.open = false;
    c.send(frame(1, 0));
    c.send(frame(1, 1));
    c.end(Buffer.from('bye'));
    expect(f.ended).toBe(false);
    f.drain();
    expect(f.written.at(-1)).toBe('bye');
    expect(f.ended).toBe(true);
    const g = fakeResponse();
    const d = new StreamClient(g.res, { runId: 'r', keyId: 'k', limitBytes: 1000 });
    const reasons: CloseReason[] = [];
    d.onClose((w) => reasons.push(w));
    (g.res as unknown as EventEmitter).emit('close');
    expect(reasons).toEqual(['disconnected']);
  });
});
