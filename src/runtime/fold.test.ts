import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldRun } from './fold.ts';
import type { StoredEvent } from './store.ts';

const ev = (seq: number, type: string, extra: Record<string, unknown> = {}): StoredEvent => ({ runId: 'r', seq, ts: 1000 + seq * 10, type, ...extra });

describe('foldRun', () => {
  it('is pending with no events', () => {
    expect(foldRun([])).toEqual({ status: 'pending', nodes: {}, outputs: {}, lastSeq: -1 });
  });

  it('folds a completed run: statuses, outputs, usage, lastSeq', () => {
    const usage = { inputTokens: 1, outputTokens: 2, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 1 };
    const events = [
      ev(0, 'run.started'), ev(1, 'node.started', { nodeId: 'a' }), ev(2, 'node.completed', { nodeId: 'a', output: 1 }),
      ev(3, 'node.skipped', { nodeId: 'b' }), ev(4, 'node.started', { nodeId: 'c' }), ev(5, 'node.completed', { nodeId: 'c', output: 'x' }),
      ev(6, 'run.completed', { output: 'x', usage }),
    ];
    const s = foldRun(events);
    expect(s.status).toBe('completed');
    expect(s.outputs).toEqual({ a: 1, c: 'x' });
    expect(s.nodes['b']).toEqual({ status: 'skipped', starts: 0 });
    expect(s.output).toBe('x');
    expect(s.usage).toEqual(usage);
    expect(s.lastSeq).toBe(6);
    expect(s.lastTs).toBe(1060);
  });

  it('counts a started node without an end as running, a resumed one as completed, and restarts in starts', () => {
    const events = [
      ev(0, 'run.started'), ev(1, 'node.started', { nodeId: 'a' }), ev(2, 'node.completed', { nodeId: 'a', output: 1 }), ev(3, 'node.started', { nodeId: 'b' }),
      // crash; recovery
      ev(4, 'run.started'), ev(5, 'node.resumed', { nodeId: 'a', output: 1 }), ev(6, 'node.started', { nodeId: 'b' }),
    ];
    expect(foldRun(events, { seq: 3 }).nodes['b']).toEqual({ status: 'running', starts: 1 });
    const s = foldRun(events);
    expect(s.nodes['a']).toEqual({ status: 'completed', output: 1, starts: 1 });
    expect(s.nodes['b']).toEqual({ status: 'running', starts: 2 });
    expect(s.status).toBe('running');
  });

  it('stops at a time', () => {
    const events = [ev(0, 'run.started'), ev(1, 'node.started', { nodeId: 'a' }), ev(2, 'node.failed', { nodeId: 'a', error: { name: 'E', code: 'X', message: 'm', retriable: false } })];
    expect(foldRun(events, { ts: 1015 }).lastSeq).toBe(1);
    expect(foldRun(events).nodes['a']?.status).toBe('failed');
  });

  it('keeps a failed run error and waiting status', () => {
    const err = { name: 'E', code: 'X', message: 'm', retriable: false };
    expect(foldRun([ev(0, 'run.started'), ev(1, 'run.waiting')]).status).toBe('waiting');
    const s = foldRun([ev(0, 'run.started'), ev(1, 'run.failed', { error: err })]);
    expect(s.status).toBe('failed');
    expect(s.error).toEqual(err);
  });

  it('a node its run parked on is waiting until the signal, then running until it ends', () => {
    const events = [
      ev(0, 'run.started'), ev(1, 'node.started', { nodeId: 'draft' }), ev(2, 'node.completed', { nodeId: 'draft', output: 'd' }),
      ev(3, 'node.started', { nodeId: 'approve' }), ev(4, 'run.waiting', { nodeId: 'approve' }), ev(5, 'run.signalled', { nodeId: 'approve', payload: {} }),
      ev(6, 'run.started'), ev(7, 'node.resumed', { nodeId: 'draft', output: 'd' }), ev(8, 'node.started', { nodeId: 'approve' }), ev(9, 'node.completed', { nodeId: 'approve', output: {} }),
    ];
    expect(foldRun(events, { seq: 4 }).nodes['approve']).toEqual({ status: 'waiting', starts: 1 });
    expect(foldRun(events, { seq: 4 }).nodes['draft']?.status).toBe('completed');
    expect(foldRun(events, { seq: 5 }).nodes['approve']).toEqual({ status: 'running', starts: 1 });
    expect(foldRun(events, { seq: 8 }).nodes['approve']).toEqual({ status: 'running', starts: 2 });
    expect(foldRun(events).nodes['approve']).toEqual({ status: 'completed', output: {}, starts: 2 });
  });

  it('property: folding a prefix equals the state at its last seq', () => {
    const nodeIds = ['a', 'b', 'c', 'd'];
    const step = fc.oneof(
      fc.constantFrom('run.started', 'run.waiting', 'run.signalled').map((type) => ({ type })),
      fc.record({ type: fc.constantFrom('node.started', 'node.skipped'), nodeId: fc.constantFrom(...nodeIds) }),
      fc.record({ type: fc.constantFrom('node.completed', 'node.resumed'), nodeId: fc.constantFrom(...nodeIds), output: fc.jsonValue() }),
      fc.record({ type: fc.constantFrom('node.failed', 'node.cancelled'), nodeId: fc.constantFrom(...nodeIds), error: fc.record({ name: fc.string(), code: fc.string(), message: fc.string(), retriable: fc.boolean() }) }),
      fc.record({ type: fc.constantFrom('run.completed'), output: fc.jsonValue() }),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), fc.nat(), (steps, cut) => {
      const events = steps.map((s, seq) => ({ runId: 'r', seq, ts: seq * 3, ...s }) as StoredEvent);
      const k = events.length === 0 ? -1 : cut % events.length;
      const prefix = events.slice(0, k + 1);
      expect(foldRun(prefix)).toEqual(foldRun(events, { seq: k }));
      expect(foldRun(prefix)).toEqual(foldRun(events, { ts: k * 3 }));
      // folding is deterministic and the outputs are exactly the completed nodes' outputs
      const s = foldRun(events);
      for (const [id, n] of Object.entries(s.nodes)) expect(Object.hasOwn(s.outputs, id)).toBe(n.status === 'completed');
    }), { numRuns: 300 });
  });
});
