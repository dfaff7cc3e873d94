import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The driver's own conversion, which these literals replace.
// @ts-expect-error pg ships no types for its internal utils
import utils from 'pg/lib/utils.js';
import { scalarArray, textArray } from './arrays.ts';

const pgLiteral = (xs: unknown[]): string => (utils as { prepareValue: (v: unknown) => string }).prepareValue(xs);

describe('array literals', () => {
  it('property: textArray is the literal the driver would send, NULLs, quotes and backslashes included', () => {
    fc.assert(fc.property(fc.array(fc.option(fc.string({ unit: 'binary' }), { nil: null })), (xs) => {
      expect(textArray(xs)).toBe(pgLiteral(xs));
    }), { numRuns: 500 });
    expect(textArray([])).toBe('{}');
    expect(textArray(['a', null, 'say "hi" \\ bye'])).toBe('{"a",NULL,"say \\"hi\\" \\\\ bye"}');
  });

  it('scalarArray: integers and booleans, NULL for null', () => {
    expect(scalarArray([])).toBe('{}');
    expect(scalarArray([1, -2, 1_796_286_665_585])).toBe('{1,-2,1796286665585}');
    expect(scalarArray([1, null, 3])).toBe('{1,NULL,3}');
    expect(scalarArray([true, false, null])).toBe('{true,false,NULL}');
  });
});
