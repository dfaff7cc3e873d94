/**
 * The cheap prefilter the regex detectors share. Every built-in pattern matches only characters
 * of a small alphabet (a card number: digits, spaces and dashes), so a match lies inside one
 * maximal run of that alphabet, and it needs a minimum length and most often a minimum number of
 * digits that ordinary prose never reaches. The digits of a text are found with `indexOf` (native
 * scans, far cheaper on this path than a loop over the text in JavaScript), once per scan
 * ({@link sharingTextFacts}); {@link longRuns} widens them into the runs long enough (or, for
 * runs needing no digit, probes the text at a stride of the minimum length); the detector's regex
 * then runs only from those runs on ({@link findAllInRuns}), or over the whole text, as before,
 * when it holds too many digits to list ({@link scanRegions}).
 *
 * @example
 * ```ts
 * const runs = scanRegions(text, CARD_CHARS, 13, 13);    // runs holding 13 digits or more
 * const found = findAllInRuns(text, CARD, runs, accept); // the same matches as findAll(text, CARD, accept)
 * ```
 * @module
 */
import type { PiiMatch } from './types.ts';

/**
 * Character classes of ASCII code units, as bits of {@link CHAR_CLASS}. Characters outside ASCII
 * belong to none (no built-in pattern matches them: `\d` and `\w` are ASCII-only without the `u` flag).
 *
 * @example
 * ```ts
 * const alphabet = CharClass.Digit | CharClass.Space | CharClass.Dash;
 * ```
 */
export const CharClass = Object.freeze({
  Digit: 1,
  Upper: 2,
  Lower: 4,
  Space: 8,
  Dash: 16,
  Underscore: 32,
  Dot: 64,
  Plus: 128,
  Slash: 256,
  Paren: 512,
} as const);

/**
 * The {@link CharClass} bits of each ASCII code unit (index = char code, 0 to 127).
 *
 * @example
 * ```ts
 * (CHAR_CLASS['7'.charCodeAt(0)]! & CharClass.Digit) !== 0; // true
 * ```
 */
export const CHAR_CLASS: Readonly<Uint16Array> = (() => {
  const t = new Uint16Array(128);
  const set = (chars: string, bit: number): void => {
    for (const c of chars) t[c.charCodeAt(0)]! |= bit;
  };
  set('0123456789', CharClass.Digit);
  set('ABCDEFGHIJKLMNOPQRSTUVWXYZ', CharClass.Upper);
  set('abcdefghijklmnopqrstuvwxyz', CharClass.Lower);
  set(' ', CharClass.Space);
  set('-', CharClass.Dash);
  set('_', CharClass.Underscore);
  set('.', CharClass.Dot);
  set('+', CharClass.Plus);
  set('/', CharClass.Slash);
  set('()', CharClass.Paren);
  return t;
})();

const NONE: readonly number[] = Object.freeze([]);

/**
 * The maximal runs of characters in `alphabet` (a mask of {@link CharClass} bits) that are at
 * least `minLength` long and hold at least `minDigits` digits, in text order, as a flat list of
 * `[start, end)` pairs (`[s0, e0, s1, e1, …]`). Empty (and shared) when there is none, which is
 * the usual answer for prose. With `minDigits` above 0 the runs are widened from the text's
 * digits (found with `indexOf`, see {@link digitGroups}); otherwise the text is probed every
 * `minLength` characters and a probe in the alphabet is widened to its run.
 *
 * @example
 * ```ts
 * longRuns('order 58213, card 4111 1111 1111 1111.', CharClass.Digit | CharClass.Space, 13, 13); // [17, 37]
 * ```
 */
export function longRuns(text: string, alphabet: number, minLength: number, minDigits = 0): readonly number[] {
  if (minDigits <= 0) return probedRuns(text, alphabet, minLength, 0);
  if ((alphabet & CharClass.Digit) === 0) return NONE;
  const groups = digitGroups(text);
  return groups === undefined ? probedRuns(text, alphabet, minLength, minDigits) : runsAroundDigits(text, groups, alphabet, minLength, minDigits);
}

/**
 * Where a detector's regex has to run: the {@link longRuns} of its alphabet, or the whole text
 * (`[0, length]`) when the text holds too many digits to list them cheaply (a table of numbers,
 * a base64 blob), where a regex scan costs less than widening runs in JavaScript. Fit for
 * {@link eachInRuns} and {@link findAllInRuns}, not as tokens.
 *
 * @example
 * ```ts
 * findAllInRuns(text, CARD, scanRegions(text, CARD_CHARS, 13, 13), accept);
 * ```
 */
export function scanRegions(text: string, alphabet: number, minLength: number, minDigits: number): readonly number[] {
  if (minDigits > 0 && (alphabet & CharClass.Digit) !== 0 && digitGroups(text) === undefined) return [0, text.length];
  return longRuns(text, alphabet, minLength, minDigits);
}

function probedRuns(text: string, alphabet: number, minLength: number, minDigits: number): readonly number[] {
  const n = text.length;
  const step = Math.max(1, minLength);
  let out: number[] | undefined;
  // `done`: everything before it is known (a run already widened, or left behind).
  let done = 0;
  for (let p = step - 1; p < n; ) {
    const c = text.charCodeAt(p);
    if (c >= 128 || (CHAR_CLASS[c]! & alphabet) === 0) {
      p += step;
      continue;
    }
    let s = p;
    while (s > done && inAlphabet(text.charCodeAt(s - 1), alphabet)) s--;
    let e = p + 1;
    while (e < n && inAlphabet(text.charCodeAt(e), alphabet)) e++;
    if (e - s >= minLength && (minDigits === 0 || hasDigits(text, s, e, minDigits))) (out ??= []).push(s, e);
    // A later run starts after `e` (a character outside the alphabet), so it covers `e + step` or a later probe.
    done = e + 1;
    p = e + step;
  }
  return out ?? NONE;
}

/** Whether `text[s, e)` holds `min` ASCII digits or more. */
function hasDigits(text: string, s: number, e: number, min: number): boolean {
  let k = 0;
  for (let i = s; i < e; i++) if (isDigit(text.charCodeAt(i)) && ++k >= min) return true;
  return false;
}

function runsAroundDigits(text: string, groups: readonly number[], alphabet: number, minLength: number, minDigits: number): readonly number[] {
  const n = text.length;
  let out: number[] | undefined;
  for (let g = 0; g < groups.length; ) {
    let s = groups[g]!;
    let e = groups[g + 1]!;
    let count = e - s;
    g += 2;
    // Runs are maximal: the run around this group starts after the last run's end.
    while (s > 0 && inAlphabet(text.charCodeAt(s - 1), alphabet)) s--;
    while (e < n) {
      const c = text.charCodeAt(e);
      if (c >= 48 && c <= 57) {
        // the next digit group, inside the same run
        count += groups[g + 1]! - e;
        e = groups[g + 1]!;
        g += 2;
      } else if (inAlphabet(c, alphabet)) e++;
      else break;
    }
    if (e - s >= minLength && count >= minDigits) (out ??= []).push(s, e);
  }
  return out ?? NONE;
}

function inAlphabet(c: number, alphabet: number): boolean {
  return c < 128 && (CHAR_CLASS[c]! & alphabet) !== 0;
}

const DIGIT_CHARS = '0123456789';
const NO_GROUPS: readonly number[] = Object.freeze([]);

// What detectors derive from the text being scanned, shared by the detectors of one scan (see sharingTextFacts).
// `groups`: null when the text holds too many digits to list cheaply, undefined until asked.
let facts: { readonly text: string; groups: readonly number[] | null | undefined } | undefined;

/**
 * Runs `f` (a scan: several detectors over `text`) with the facts detectors derive from `text`
 * (where its digits are) computed once and shared, then forgets them: nothing of the text
 * outlives the call. Nested calls (a custom detector scanning another text) keep their own facts.
 *
 * @example
 * ```ts
 * const found = sharingTextFacts(text, () => detectors.map((d) => d.detect(text)));
 * ```
 */
export function sharingTextFacts<T>(text: string, f: () => T): T {
  const outer = facts;
  facts = { text, groups: undefined };
  try {
    return f();
  } finally {
    facts = outer;
  }
}

/**
 * The maximal runs of ASCII digits of `text`, ascending, as flat `[start, end)` pairs (shared
 * within a scan), or undefined when the text holds more digits than a few per hundred characters.
 * Each digit character is found with `indexOf` (a native scan, far cheaper than a loop over the
 * text in JavaScript when digits are few, as in prose).
 *
 * @example
 * ```ts
 * digitGroups('order 58213, claim 7734'); // [6, 11, 19, 23]
 * ```
 */
export function digitGroups(text: string): readonly number[] | undefined {
  const f = facts;
  if (f === undefined || f.text !== text) return findDigitGroups(text) ?? undefined;
  if (f.groups === undefined) f.groups = findDigitGroups(text);
  return f.groups ?? undefined;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function findDigitGroups(text: string): readonly number[] | null {
  // The first digit of each group, found through `indexOf` per digit character (unordered).
  const starts: number[] = [];
  let seen = 0;
  const limit = (text.length >> 5) + 32;
  for (let d = 0; d < 10; d++) {
    const ch = DIGIT_CHARS[d]!;
    for (let i = text.indexOf(ch); i !== -1; i = text.indexOf(ch, i + 1)) {
      if (++seen > limit) return null;
      if (i === 0 || !isDigit(text.charCodeAt(i - 1))) starts.push(i);
    }
  }
  if (starts.length === 0) return NO_GROUPS;
  sortSmall(starts);
  const out: number[] = [];
  for (const s of starts) {
    let e = s + 1;
    while (e < text.length && isDigit(text.charCodeAt(e))) e++;
    out.push(s, e);
  }
  return out;
}

/** Ascending, in place: insertion sort for the few group starts of prose, the built-in sort past that. */
function sortSmall(a: number[]): void {
  if (a.length > 32) {
    a.sort((x, y) => x - y);
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * Calls `visit` with each match of `re` (a global regex) that `findAll` would see and that may
 * matter: the regex runs only from one character before each of `runs` (from {@link longRuns}),
 * over the run and what follows it up to the next run. Valid when every match the caller keeps
 * has its value inside one of `runs` and a match consumes at most one delimiter character before
 * its value: the stretches skipped hold no match the caller would keep, and no match starting in
 * them reaches into a run, so the matches seen from a run on are the ones a full scan sees.
 *
 * @example
 * ```ts
 * eachInRuns(text, PHONE, longRuns(text, PHONE_CHARS, 7, 7), (m) => candidates.push(m[1]!));
 * ```
 */
export function eachInRuns(text: string, re: RegExp, runs: readonly number[], visit: (m: RegExpExecArray) => void): void {
  if (runs.length === 0) return;
  re.lastIndex = 0;
  let k = 0;
  for (;;) {
    while (k < runs.length && runs[k + 1]! <= re.lastIndex) k += 2;
    if (k >= runs.length) break;
    const from = runs[k]! - 1;
    if (re.lastIndex < from) re.lastIndex = from;
    const m = re.exec(text);
    if (m === null) break;
    visit(m);
    if (m[0].length === 0) re.lastIndex++;
  }
  re.lastIndex = 0;
}

/**
 * The matches `findAll(text, re, accept)` would return, under the conditions of {@link eachInRuns}
 * (every match `accept` keeps lies inside one of `runs`).
 *
 * @example
 * ```ts
 * findAllInRuns(text, /(?:^|[^\w.-])(\d(?:[ -]?\d){12,18})/g, longRuns(text, CARD_CHARS, 13, 13), accept);
 * ```
 */
export function findAllInRuns(text: string, re: RegExp, runs: readonly number[], accept: (m: RegExpExecArray) => PiiMatch | undefined): PiiMatch[] {
  const out: PiiMatch[] = [];
  eachInRuns(text, re, runs, (m) => {
    const found = accept(m);
    if (found !== undefined) out.push(found);
  });
  return out;
}
