/**
 * High-entropy strings: tokens that look random (secrets in formats nobody registered, session
 * ids, passwords in URLs), judged by Shannon entropy per character.
 *
 * @example
 * ```ts
 * createEntropyDetector().detect('token=Zq8xN2vL0pR7sT4wY1bK6mC3'); // one match
 * ```
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../../errors.ts';
import { CharClass, longRuns } from './runs.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

/**
 * Shannon entropy of `s` in bits per character (0 for the empty string).
 *
 * @example
 * ```ts
 * shannonEntropy('aaaa'); // 0
 * shannonEntropy('abcd'); // 2
 * ```
 */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const entropyOptions = z.strictObject({
  /** Shortest token considered. */
  minLength: z.number().int().min(8).max(1024).default(20),
  /** Bits per character at or above which a token is reported. */
  threshold: z.number().min(1).max(8).default(4.2),
  /** Skip UUIDs (`8-4-4-4-12` hex): they are ids, not secrets. */
  ignoreUuids: z.boolean().default(true),
  /** Require a digit and a letter (plain words and identifiers have no digits). */
  requireDigit: z.boolean().default(true),
  /** More tokens to skip (tested against the whole token). */
  ignore: z.array(z.instanceof(RegExp)).default([]),
});

/**
 * Options of {@link createEntropyDetector}.
 *
 * @example
 * ```ts
 * const opts: EntropyDetectorOptions = { minLength: 32, threshold: 4.5 };
 * ```
 */
export type EntropyDetectorOptions = z.input<typeof entropyOptions>;


// Base64 and base64url: letters, digits, `+`, `/`, `_` and `-`.
const TOKEN_CHARS = CharClass.Upper | CharClass.Lower | CharClass.Digit | CharClass.Plus | CharClass.Slash | CharClass.Underscore | CharClass.Dash;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGIT = /\d/;
const LETTER = /[A-Za-z]/;

/**
 * Reports tokens (runs of base64/base64url characters, with `=` padding only at the end) at least `minLength` long whose entropy
 * is at least `threshold` bits per character. Ordinary long words, snake_case and kebab-case
 * identifiers (no digit), UUIDs and most hex digests (at most 4 bits per character, usually
 * below) are not reported. `score` is the entropy divided by 6 (capped at 1). It runs with the
 * lowest priority, so a token another detector matched (a key, a JWT, an IBAN) is that, not this.
 *
 * @example
 * ```ts
 * const entropy = createEntropyDetector({ minLength: 24, ignore: [/^sha256-/] });
 * entropy.detect('internationalization_and_localization').length; // 0
 * ```
 */
export function createEntropyDetector(options: EntropyDetectorOptions = {}): SyncPiiDetector {
  const r = entropyOptions.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'entropy detector options are invalid', toIssues(r.error.issues, ['options']));
  const o = r.data;
  return Object.freeze({
    type: 'high_entropy',
    priority: 10,
    detect: (text: string): PiiMatch[] => {
      const out: PiiMatch[] = [];
      // A token is a maximal run of base64/base64url characters, plus `=` padding at its end;
      // only runs that can reach `minLength` with their padding (and hold a digit, when one is
      // required) are looked at.
      const runs = longRuns(text, TOKEN_CHARS, o.minLength - 2, o.requireDigit ? 1 : 0);
      for (let k = 0; k < runs.length; k += 2) {
        const from = runs[k]!;
        let end = runs[k + 1]!;
        const stop = Math.min(text.length, end + 2);
        while (end < stop && text.charCodeAt(end) === 61) end++; // '=' padding
        if (end - from < o.minLength) continue;
        const t = text.slice(from, end);
        if (o.requireDigit && (!DIGIT.test(t) || !LETTER.test(t))) continue;
        if (o.ignoreUuids && UUID.test(t)) continue;
        if (o.ignore.some((re) => re.test(t))) continue;
        const h = shannonEntropy(t);
        if (h >= o.threshold) out.push({ type: 'high_entropy', start: from, end, value: t, score: Math.min(1, h / 6) });
      }
      return out;
    },
  });
}
