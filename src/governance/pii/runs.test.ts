import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findAll } from './find.ts';
import { CHAR_CLASS, CharClass, digitGroups, findAllInRuns, longRuns, scanRegions, sharingTextFacts } from './runs.ts';
import type { PiiMatch } from './types.ts';

const DIGIT_SEP = CharClass.Digit | CharClass.Space | CharClass.Dash;
const inAlphabet = (c: number, alphabet: number): boolean => c < 128 && (CHAR_CLASS[c]! & alphabet) !== 0;

/** The maximal runs meeting the criteria, by reading every character. */
function naiveRuns(text: string, alphabet: number, minLength: number, minDigits: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (!inAlphabet(text.charCodeAt(i), alphabet)) {
      i++;
      continue;
    }
    const s = i;
    let digits = 0;
    for (; i < text.length && inAlphabet(text.charCodeAt(i), alphabet); i++) if (/\d/.test(text[i]!)) digits++;
    if (i - s >= minLength && digits >= minDigits) out.push(s, i);
  }
  return out;
}

function naiveGroups(text: string): number[] {
  return [...text.matchAll(/\d+/g)].flatMap((m) => [m.index, m.index + m[0].length]);
}

// Texts built from pieces that make runs of every kind: digits, separators, letters, symbols, non-ASCII.
const piece = fc.constantFrom('0', '7', '42', '4111', ' ', '-', '.', '(', ')', '+', '/', '_', 'a', 'Z', 'sk', 'é', '€', ':', '=', '\n', 'x9');
const text = fc.array(piece, { maxLength: 120 }).map((ps) => ps.join(''));

describe('digitGroups', () => {
  it('finds the maximal digit runs in order, inside a scan or not, and gives up on a text full of digits', () => {
    expect(digitGroups('order 58213, claim 7734')).toEqual([6, 11, 19, 23]);
    expect(digitGroups('no digits here')).toEqual([]);
    const dense = '12 345 6789 '.repeat(40);
    expect([digitGroups(dense), sharingTextFacts(dense, () => digitGroups(dense))]).toEqual([undefined, undefined]);
    fc.assert(
      fc.property(text, (t) => {
        const many = t.replace(/\D/g, '').length > 32 + (t.length >> 5);
        const expected = many ? undefined : naiveGroups(t);
        expect(digitGroups(t)).toEqual(expected);
        expect(sharingTextFacts(t, () => digitGroups(t))).toEqual(expected);
      }),
      { seed: 13, numRuns: 400 },
    );
  });
});

describe('longRuns', () => {
  it('returns the maximal runs of the alphabet long enough, probed or widened from digits', () => {
    expect(longRuns('order 58213, card 4111 1111 1111 1111.', DIGIT_SEP, 13, 13)).toEqual([17, 37]);
    expect(longRuns('plain words only', DIGIT_SEP, 13, 13)).toEqual([]);
    const letters = CharClass.Upper | CharClass.Lower | CharClass.Digit;
    expect(longRuns('a bcdefghijklmnopqrstu v', letters, 20)).toEqual([2, 22]);
    const alphabets = fc.constantFrom(DIGIT_SEP, letters | CharClass.Dash, DIGIT_SEP | CharClass.Dot | CharClass.Paren | CharClass.Plus | CharClass.Slash, CharClass.Upper | CharClass.Lower);
    // minDigits 0: probed; above: widened from the digits
    for (const minDigits of [fc.constant(0), fc.integer({ min: 1, max: 13 })]) {
      fc.assert(
        fc.property(text, fc.integer({ min: 1, max: 16 }), minDigits, alphabets, (t, minLength, d, alphabet) => {
          expect(longRuns(t, alphabet, minLength, d)).toEqual(naiveRuns(t, alphabet, minLength, d));
        }),
        { seed: 13, numRuns: 1000 },
      );
    }
  });
});

describe('findAllInRuns', () => {
  // A card-like pattern that consumes the delimiter before the number, as the detectors' patterns do.
  const re = /(?:^|[^\w.-])(\d(?:[ -]?\d){3,8})(?![\w-]|\.\d)/g;
  const accept = (m: RegExpExecArray): PiiMatch | undefined => {
    const value = m[1]!;
    const start = m.index + m[0].length - value.length;
    // kept only with 6 digits or more: the runs asked for below hold 6 digits or more
    return value.replace(/\D/g, '').length >= 6 ? { type: 'n', start, end: start + value.length, value } : undefined;
  };
  it('finds what a scan of the whole text finds, from runs or from scanRegions (the whole text when digits abound)', () => {
    const t = 'a 12 34, 5 6 7 8 9 0 1-2-3 and 123456 x99 9999999';
    expect(findAllInRuns(t, re, longRuns(t, DIGIT_SEP, 6, 6), accept)).toEqual(findAll(t, re, accept));
    const dense = '1234567 89, '.repeat(30);
    expect(scanRegions(dense, DIGIT_SEP, 6, 6)).toEqual([0, dense.length]);
    expect(findAllInRuns(dense, re, scanRegions(dense, DIGIT_SEP, 6, 6), accept)).toEqual(findAll(dense, re, accept));
    fc.assert(
      fc.property(text, (t) => {
        expect(findAllInRuns(t, re, longRuns(t, DIGIT_SEP, 6, 6), accept)).toEqual(findAll(t, re, accept));
        expect(findAllInRuns(t, re, scanRegions(t, DIGIT_SEP, 6, 6), accept)).toEqual(findAll(t, re, accept));
      }),
      { seed: 13, numRuns: 1000 },
    );
  });
});

describe('sharingTextFacts', () => {
  it('shares facts only for the text of the scan, and restores the outer scan after a nested one', () => {
    const outer = 'claim 7734';
    const inner = 'order 58213';
    sharingTextFacts(outer, () => {
      expect(digitGroups(outer)).toEqual([6, 10]);
      expect(sharingTextFacts(inner, () => [digitGroups(inner), digitGroups(outer)])).toEqual([[6, 11], [6, 10]]);
      expect(digitGroups(outer)).toEqual([6, 10]);
      expect(digitGroups(inner)).toEqual([6, 11]);
    });
    expect(() => sharingTextFacts(outer, () => { throw new Error('boom'); })).toThrow('boom');
    expect(digitGroups(outer)).toEqual([6, 10]);
  });
});
