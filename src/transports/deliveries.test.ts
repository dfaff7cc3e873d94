// Unit tests of the per-process delivery count: counts per (partition, offset), forgets finished
// messages, and stays bounded by evicting the least recently delivered.
import { describe, expect, it } from 'vitest';
import { DeliveryCounter } from './deliveries.ts';

describe('DeliveryCounter', () => {
  it('counts deliveries per partition and offset, and forgets a finished message', () => {
    const d = new DeliveryCounter();
    expect(d.count(0, '7')).toBe(1);
    expect(d.count(0, '7')).toBe(2);
    expect(d.count(1, '7')).toBe(1);
    d.forget(0, '7');
    expect(d.count(0, '7')).toBe(1);
  });

  it('keeps at most maxEntries, evicting the least recently delivered', () => {
    const d = new DeliveryCounter(2);
    d.count(0, '1');
    d.count(0, '2');
    d.count(0, '1'); // 1 is now the most recent
    d.count(0, '3'); // evicts 2
    expect(d.size).toBe(2);
    expect(d.count(0, '1')).toBe(3);
    expect(d.count(0, '2')).toBe(1);
  });
});
