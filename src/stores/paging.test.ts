import { describe, expect, it } from 'vitest';
import { CURSOR_PATTERN, decodeCursor, encodeCursor, readCursor } from './paging.ts';

describe('list cursors', () => {
  it('round-trip any run id, and every cursor has the published form', () => {
    for (const runId of ['r-1', '', 'ünï/cødé ✓', 'a'.repeat(1000), '0f8a.b:c']) {
      const c = { createdAt: 1_796_433_691_205, runId };
      const s = encodeCursor(c);
      expect(CURSOR_PATTERN.test(s), s).toBe(true);
      expect(decodeCursor(s)).toEqual(c);
    }
  });

  it('any string of the published form is a position; anything else is refused', () => {
    expect(readCursor('0.')).toEqual({ createdAt: 0, runId: '' });
    expect(readCursor('zz.YWJj')).toEqual({ createdAt: 1295, runId: 'abc' });
    for (const bad of ['0', '', '.abc', 'A.abc', '1.a=b', '1.a.b', 'eyJ4IjoxfQ']) expect(readCursor(bad), bad).toBeUndefined();
    expect(() => decodeCursor('0')).toThrow(expect.objectContaining({ code: 'STORE_INVALID' }));
  });
});
