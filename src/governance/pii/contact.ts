/**
 * Contact detectors: email addresses (regex candidates, checked by `validator`'s `isEmail`) and
 * phone numbers (cheap digit-count candidates, checked by `libphonenumber-js` with full metadata).
 *
 * @example
 * ```ts
 * emailDetector.detect('write to ada@example.com'); // one match
 * createPhoneDetector({ defaultCountry: 'US' }).detect('call (415) 555-2671'); // one match
 * ```
 * @module
 */
import isEmail from 'validator/lib/isEmail.js';
import { findPhoneNumbersInText, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import * as z from 'zod';
import { ValidationError, toIssues } from '../../errors.ts';
import { BoundedMemo } from './memo.ts';
import { CHAR_CLASS, CharClass, eachInRuns, scanRegions } from './runs.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

// Local part and domain around one `@`; the detector finds each `@` with indexOf (fast) and
// matches these anchored pieces around it, instead of trying a regex at every position.
const ALNUM = CharClass.Upper | CharClass.Lower | CharClass.Digit;
const LOCAL = ALNUM | CharClass.Dot | CharClass.Underscore | CharClass.Plus | CharClass.Dash;
// [A-Za-z0-9._%+-]
const isLocalChar = (c: number): boolean => c === 37 || (c < 128 && (CHAR_CLASS[c]! & LOCAL) !== 0);
// [A-Za-z0-9]
const isAlnum = (c: number): boolean => c < 128 && (CHAR_CLASS[c]! & ALNUM) !== 0;
const EMAIL = /^[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])/;

// Recent validator answers kept per detector (a few kilobytes at most).
const MEMO_CAPACITY = 512;
// `isEmail` costs a few µs an address; the detector is shared, so is its memo (made on first use).
let validEmails: BoundedMemo<string, boolean> | undefined;

/**
 * Email addresses with a real top-level domain (`user@localhost` and `a@b.c` are not). The
 * answers of `isEmail` for the last 512 candidates are kept (those strings stay in memory until
 * pushed out), so an address seen again costs a lookup.
 *
 * @example
 * ```ts
 * emailDetector.detect('{"to":"ada@example.com"}')[0]?.value; // 'ada@example.com'
 * ```
 */
export const emailDetector: SyncPiiDetector = Object.freeze({
  type: 'email',
  priority: 50,
  detect: (text: string): PiiMatch[] => {
    const out: PiiMatch[] = [];
    let from = 0;
    for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', from)) {
      from = at + 1;
      let start = at;
      while (start > 0 && at - start < 64 && isLocalChar(text.charCodeAt(start - 1))) start--;
      // The local part may not start with a dot or symbol: move right to its first letter or digit.
      while (start < at && !isAlnum(text.charCodeAt(start))) start++;
      const m = EMAIL.exec(text.slice(start, at + 256));
      if (m === null) continue;
      const memo = (validEmails ??= new BoundedMemo(MEMO_CAPACITY));
      if (!(memo.get(m[0]) ?? memo.set(m[0], isEmail(m[0])))) continue;
      out.push({ type: 'email', start, end: start + m[0].length, value: m[0] });
      from = start + m[0].length;
    }
    return out;
  },
});

// A digit run with the separators phone numbers use; validated by libphonenumber afterwards.
// The delimiter before is consumed (group 1 is the number) rather than looked behind at every position.
const PHONE = /(?:^|[^\w+.-])((?:\+|00)?\(?\d[\d ().\-/]{5,40}\d)(?![\w.]?\d)/g;
// A candidate lies in a run of these characters; one the detector can accept holds 7 digits at least.
const PHONE_CHARS = CharClass.Digit | CharClass.Space | CharClass.Paren | CharClass.Dot | CharClass.Dash | CharClass.Slash | CharClass.Plus;

const phoneOptions = z.strictObject({
  /** Country assumed for numbers without `+`; numbers with `+` are always checked. */
  defaultCountry: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code such as US').default('US'),
});

/**
 * Options of {@link createPhoneDetector}.
 *
 * @example
 * ```ts
 * const opts: PhoneDetectorOptions = { defaultCountry: 'DE' };
 * ```
 */
export type PhoneDetectorOptions = z.input<typeof phoneOptions>;

/**
 * Phone numbers in international form (`+44 20 7946 0958`, `0044 …`) and in the national form of
 * `defaultCountry` (US by default: `(415) 555-2671`, `415-555-2671`, `415.555.2671`). A number
 * counts only when libphonenumber says it is valid for its country; dates, SSNs, card numbers
 * and version strings are rejected before that (digit counts), which keeps the cost near zero
 * for texts without phone-like runs. Each detector keeps libphonenumber's answers for its last
 * 512 candidates (those strings stay in memory until pushed out): a number seen again, as in a
 * conversation sent anew with every turn, costs a lookup instead of about 10 µs.
 *
 * @example
 * ```ts
 * const phones = createPhoneDetector({ defaultCountry: 'GB' });
 * phones.detect('ring 020 7946 0958'); // one match
 * ```
 */
export function createPhoneDetector(options: PhoneDetectorOptions = {}): SyncPiiDetector {
  const r = phoneOptions.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'phone detector options are invalid', toIssues(r.error.issues, ['options']));
  const country = r.data.defaultCountry as CountryCode;
  // libphonenumber's validation is the costly step (about 10 µs a number): remember recent answers.
  const valid = new BoundedMemo<string, string | null>(MEMO_CAPACITY);
  return Object.freeze({
    type: 'phone',
    priority: 40,
    detect: (text: string): PiiMatch[] => {
      const out: PiiMatch[] = [];
      eachInRuns(text, PHONE, scanRegions(text, PHONE_CHARS, 7, 7), (m) => {
        const raw = m[1] ?? '';
        const at = m.index + m[0].length - raw.length;
        const digits = countDigits(raw);
        if (digits > (raw.startsWith('+') || raw.startsWith('00') ? 17 : 12) && /\s/.test(raw) && /[+(.\-/]/.test(raw)) {
          // Several numbers in one run ("415-555-2671 415-555-2672"): let libphonenumber split it.
          // Runs of digits and spaces only (a card number "4111 1111 1111 1111") are not split.
          for (const f of findPhoneNumbersInText(raw, country)) {
            out.push({ type: 'phone', start: at + f.startsAt, end: at + f.endsAt, value: raw.slice(f.startsAt, f.endsAt), kind: f.number.country ?? f.number.countryCallingCode });
          }
          return;
        }
        const known = valid.get(raw);
        const found = known !== undefined ? known : valid.set(raw, checkPhone(raw, digits, country) ?? null);
        if (found !== null) out.push({ type: 'phone', start: at, end: at + raw.length, value: raw, kind: found });
      });
      return out;
    },
  });
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** The phone's country (or calling code) when `raw` is a valid number, else undefined. */
function checkPhone(raw: string, digits: number, country: CountryCode): string | undefined {
  const intl = raw.startsWith('+') || raw.startsWith('00');
  if (intl ? digits < 8 || digits > 17 : digits < 7 || digits > 12) return undefined;
  // Dates, SSNs and dotted quads (IPv4 addresses, four-part versions) are not phone numbers.
  if (/^\d{4}[-/.]\d\d[-/.]\d\d/.test(raw) || /^\d{3}-\d\d-\d{4}$/.test(raw) || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(raw)) return undefined;
  // The candidate is already cut out of the text: no extraction pass inside libphonenumber.
  const phone = parsePhoneNumberFromString(raw.startsWith('00') ? `+${raw.slice(2)}` : raw, { defaultCountry: country, extract: false });
  return phone?.isValid() === true ? (phone.country ?? phone.countryCallingCode) : undefined;
}
