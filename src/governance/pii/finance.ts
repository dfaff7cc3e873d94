/**
 * Financial detectors: payment card numbers (brand prefix, length and Luhn checked by
 * `validator`'s `isCreditCard`) and IBANs (country length and mod-97 checksum checked by
 * `ibantools`), written plain or grouped with spaces or dashes.
 *
 * @example
 * ```ts
 * creditCardDetector.detect('card 4111 1111 1111 1111'); // one match
 * ibanDetector.detect('IBAN DE89 3704 0044 0532 0130 00'); // one match
 * ```
 * @module
 */
import isCreditCard from 'validator/lib/isCreditCard.js';
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { BoundedMemo } from './memo.ts';
import { CharClass, findAllInRuns, scanRegions } from './runs.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

// 13 to 19 digits, optionally grouped by single spaces or dashes, not inside a longer number.
// After a delimiter (consumed: a leading lookbehind would be tried at every position), group 1
// is the number.
const CARD = /(?:^|[^\w.-])(\d(?:[ -]?\d){12,18})(?![\w-]|\.\d)/g;
// Not inside a longer run of digit groups (`SE75 3536 …` is an IBAN's, `12 4111 …` something else's).
const GROUP_BEFORE = /\d[ -]$/;
// The number lies in a run of digits, spaces and dashes holding at least 13 digits.
const CARD_CHARS = CharClass.Digit | CharClass.Space | CharClass.Dash;

const BRANDS: readonly [RegExp, string][] = [
  [/^4/, 'visa'],
  [/^(?:5[1-5]|2[2-7])/, 'mastercard'],
  [/^3[47]/, 'amex'],
  [/^6(?:011|5|4[4-9]|22)/, 'discover'],
];

// Recent answers of cardBrand, by candidate (made on first use).
let brands: BoundedMemo<string, string | null> | undefined;

/** The brand of a card number written `raw` (digits grouped by spaces or dashes), or null when it is not one. */
function cardBrand(raw: string): string | null {
  if (raw.includes(' ') && raw.includes('-')) return null; // mixed grouping is not how cards are written
  const digits = raw.replace(/[ -]/g, '');
  if (!isCreditCard(digits)) return null;
  return BRANDS.find(([re]) => re.test(digits))?.[1] ?? 'other';
}

/**
 * Payment card numbers: Visa (13, 16, 19 digits), Mastercard (16), Amex (15), Discover (16)
 * and the other brands `isCreditCard` knows, whose Luhn checksum holds. A number with a wrong
 * check digit is not a card. The answers for the last 512 candidates are kept (in memory until
 * pushed out).
 *
 * @example
 * ```ts
 * creditCardDetector.detect('4111-1111-1111-1111').length; // 1
 * creditCardDetector.detect('4111-1111-1111-1112').length; // 0 (Luhn)
 * ```
 */
export const creditCardDetector: SyncPiiDetector = Object.freeze({
  type: 'credit_card',
  priority: 50,
  detect: (text: string): PiiMatch[] =>
    findAllInRuns(text, CARD, scanRegions(text, CARD_CHARS, 13, 13), (m) => {
      const raw = m[1] ?? '';
      const start = m.index + m[0].length - raw.length;
      if (GROUP_BEFORE.test(text.slice(Math.max(0, start - 2), start))) return undefined;
      const memo = (brands ??= new BoundedMemo(512));
      const known = memo.get(raw);
      const kind = known !== undefined ? known : memo.set(raw, cardBrand(raw));
      return kind === null ? undefined : { type: 'credit_card', start, end: start + raw.length, value: raw, kind };
    }),
});

// Country code, check digits, then 10 to 30 alphanumerics, optionally grouped by spaces.
const IBAN = /[A-Z]{2}\d\d(?<![A-Za-z0-9][A-Z]{2}\d\d)(?: ?[A-Z0-9]){10,30}(?![A-Za-z0-9])/g;
// It lies in a run of capitals, digits and spaces at least 14 long (with 2 digits at least).
const IBAN_CHARS = CharClass.Upper | CharClass.Digit | CharClass.Space;

const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The runs holding two capitals followed by two digits, where an IBAN can start (the whole text is kept as it is). */
function withCountryCode(text: string, runs: readonly number[]): readonly number[] {
  if (runs.length === 0 || (runs.length === 2 && runs[0] === 0 && runs[1] === text.length)) return runs;
  const out: number[] = [];
  for (let k = 0; k < runs.length; k += 2) {
    const e = runs[k + 1]!;
    for (let i = runs[k]!; i + 3 < e; i++) {
      if (isUpper(text.charCodeAt(i)) && isUpper(text.charCodeAt(i + 1)) && isDigit(text.charCodeAt(i + 2)) && isDigit(text.charCodeAt(i + 3))) {
        out.push(runs[k]!, e);
        break;
      }
    }
  }
  return out;
}

/**
 * IBANs of any country ibantools knows, electronic (`DE89370400440532013000`) or printed in
 * groups of four (`DE89 3704 0044 0532 0130 00`); the mod-97 checksum must hold. Words in
 * capitals that follow a printed IBAN (`… 0130 00 EUR`) are trimmed off.
 *
 * @example
 * ```ts
 * ibanDetector.detect('GB82 WEST 1234 5698 7654 32')[0]?.kind; // 'GB'
 * ```
 */
export const ibanDetector: SyncPiiDetector = Object.freeze({
  type: 'iban',
  priority: 50,
  detect: (text: string): PiiMatch[] =>
    findAllInRuns(text, IBAN, withCountryCode(text, scanRegions(text, IBAN_CHARS, 14, 2)), (m) => {
      let raw = m[0];
      for (;;) {
        const electronic = electronicFormatIBAN(raw) ?? '';
        if (isValidIBAN(electronic)) return { type: 'iban', start: m.index, end: m.index + raw.length, value: raw, kind: raw.slice(0, 2) };
        const cut = raw.lastIndexOf(' ');
        if (cut < 15) return undefined;
        raw = raw.slice(0, cut);
      }
    }),
});
