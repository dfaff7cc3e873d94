import { describe, expect, it } from 'vitest';
import { createHealthBoard, mergeHealth, type HealthReport } from './health.ts';

describe('health board', () => {
  it('reports the worst part, keeps since while the status holds, and streams changes', () => {
    let t = 1;
    const board = createHealthBoard(() => t);
    const seen: HealthReport[] = [];
    board.changes$.subscribe((r) => seen.push(r));
    board.set('producer', 'up');
    board.set('consumer', 'degraded', 'slow');
    t = 5;
    board.set('consumer', 'degraded', 'slower');
    expect(board.report()).toEqual({ status: 'degraded', components: { producer: { status: 'up', since: 1 }, consumer: { status: 'degraded', since: 1, reason: 'slower' } } });
    board.set('producer', 'down', 'out of order sequence number');
    expect(board.report().status).toBe('down');
    board.set('producer', 'down', 'out of order sequence number'); // no change, no report
    board.remove('producer');
    expect(board.report().status).toBe('degraded');
    expect(seen.map((r) => r.status)).toEqual(['up', 'up', 'degraded', 'degraded', 'down', 'degraded']);
  });

  it('merges parts under prefixes', () => {
    const a = createHealthBoard(() => 0);
    const b = createHealthBoard(() => 0);
    const all = mergeHealth({ worker: a, transport: b });
    const last: HealthReport[] = [];
    all.changes$.subscribe((r) => last.push(r));
    b.set('producer', 'down', 'x');
    expect(all.report()).toEqual({ status: 'down', components: { 'transport.producer': { status: 'down', since: 0, reason: 'x' } } });
    expect(last.at(-1)?.status).toBe('down');
  });
});
