import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../runtime/store.ts';
import { applyDelta, deltaOf } from './delta.ts';
import { applyEvent, newRow, type RunRow } from './rows.ts';

const step = fc.oneof(
  fc.constantFrom('run.started', 'run.recovered', 'run.signalled').map((type) => ({ type })),
  fc.record({ type: fc.constant('run.waiting'), nodeId: fc.constantFrom('a', 'b'), name: fc.constantFrom('ok', 'go'), timeoutAt: fc.option(fc.nat(), { nil: undefined }) }),
  fc.record({ type: fc.constantFrom('node.started', 'node.completed'), nodeId: fc.constantFrom('a', 'b'), output: fc.option(fc.jsonValue(), { nil: undefined }) }),
  fc.record({ type: fc.constant('run.completed'), output: fc.option(fc.jsonValue(), { nil: undefined }) }),
  fc.record({ type: fc.constantFrom('run.failed', 'run.cancelled'), error: fc.option(fc.record({ name: fc.string(), code: fc.string(), message: fc.string(), retriable: fc.boolean() }), { nil: undefined }) }),
);

const fresh = (): RunRow => newRow({ runId: 'r', topology: 't', version: 'v', input: 1, createdAt: 5, owner: 'o', leaseMs: 10 });

describe('deltaOf / applyDelta', () => {
  it('property: applying the delta of a window of events equals folding them one by one', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.nat(), (steps, cut) => {
      const events = steps.map((s, seq) => ({ runId: 'r', seq, ts: 100 + seq, ...s }) as StoredEvent);
      // The row as a first batch left it, then the rest of the events in a second batch.
      const k = cut % events.length;
      const before = fresh();
      for (const e of events.slice(0, k)) applyEvent(before, e);
      const folded = structuredClone(before);
      for (const e of events.slice(k)) applyEvent(folded, e);
      const delta = deltaOf(events.slice(k));
      expect(delta).toBeDefined();
      const applied = structuredClone(before);
      applyDelta(applied, delta!);
      expect(applied).toEqual(folded);
    }), { numRuns: 500 });
  });

  it('is undefined for events whose seqs are not consecutive, and SEQ_CONFLICT on a row at another seq', () => {
    const e = (seq: number): StoredEvent => ({ runId: 'r', seq, ts: 1, type: 'node.started', nodeId: 'a' });
    expect(deltaOf([e(0), e(2)])).toBeUndefined();
    expect(deltaOf([])).toBeUndefined();
    const row = fresh();
    expect(() => applyDelta(row, deltaOf([e(1)])!)).toThrow(expect.objectContaining({ code: 'SEQ_CONFLICT' }));
    applyDelta(row, deltaOf([e(0), e(1)])!);
    expect(row.lastSeq).toBe(1);
  });
});
