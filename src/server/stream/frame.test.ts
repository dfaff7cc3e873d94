import { describe, expect, it } from 'vitest';
import { comment, comparePositions, endFrame, eventFrame, idOf, parseEventId, START } from './frame.ts';

describe('stream frames', () => {
  it('parses Last-Event-ID positions and refuses anything else', () => {
    expect(parseEventId('12')).toEqual({ seq: 12, n: -1 });
    expect(parseEventId(' 12:5 ')).toEqual({ seq: 12, n: 5 });
    for (const bad of ['', 'x', '12:', ':5', '-1', '1:2:3', '1e3', '9999999999999999']) expect(parseEventId(bad)).toBeUndefined();
    expect(idOf({ seq: 12, n: 5 })).toBe('12:5');
    expect(idOf({ seq: 12, n: -1 })).toBe('12');
  });

  it('orders a stored event before the tokens after it, and those before the next stored event', () => {
    const order = [START, { seq: 0, n: -1 }, { seq: 0, n: 0 }, { seq: 0, n: 7 }, { seq: 1, n: -1 }, { seq: 1, n: 0 }];
    for (let i = 1; i < order.length; i++) expect(comparePositions(order[i - 1]!, order[i]!)).toBeLessThan(0);
    expect(comparePositions({ seq: 3, n: 2 }, { seq: 3, n: 2 })).toBe(0);
  });

  it('serializes an event once, on first use, as id/event/data lines', () => {
    let encoded = 0;
    const f = eventFrame({ type: 'node.token', text: 'a\nb' } as { type: string }, { seq: 4, n: 1 }, () => { encoded++; });
    expect(encoded).toBe(0);
    expect(f.unstored).toBe(true);
    expect(f.bytes.toString()).toBe('id: 4:1\nevent: node.token\ndata: {"type":"node.token","text":"a\\nb"}\n\n');
    expect(f.bytes).toBe(f.bytes);
    expect(encoded).toBe(1);
    expect(endFrame('completed', { seq: 9, n: -1 }).toString()).toBe('id: 9\nevent: end\ndata: {"status":"completed"}\n\n');
    expect(comment('two\nlines').toString()).toBe(': two lines\n\n');
  });
});

describe('catch-up', () => {
  it('merges stored and ring frames in order without duplicates, preferring the ring\'s, and finds gaps', async () => {
    const { merge, contiguous, historyFrames } = await import('./catchup.ts');
    const stored = historyFrames([2, 3, 4].map((seq) => ({ runId: 'r', seq, ts: 1, type: 'node.started' })));
    const ring = [eventFrame({ type: 'node.started' }, { seq: 3, n: -1 }), eventFrame({ type: 'node.token' }, { seq: 3, n: 0 }), eventFrame({ type: 'node.started' }, { seq: 4, n: -1 }), eventFrame({ type: 'node.started' }, { seq: 5, n: -1 })];
    const merged = merge(stored, ring);
    expect(merged.map((f) => idOf(f.at))).toEqual(['2', '3', '3:0', '4', '5']);
    expect(merged[1]).toBe(ring[0]);
    expect(contiguous(merged, { seq: 1, n: -1 })).toBe(true);
    expect(contiguous(merged, { seq: 0, n: -1 })).toBe(false);
    expect(contiguous(merge(stored.slice(0, 1), ring.slice(2)), { seq: 1, n: 3 })).toBe(false);
  });
});
