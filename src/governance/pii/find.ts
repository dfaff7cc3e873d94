/**
 * The loop every regex-based detector shares: run a global regex over a text and keep the
 * candidates a validator accepts.
 *
 * @example
 * ```ts
 * const found = findAll('a 1 b 22', /\d+/g, (m) => ({ type: 'n', start: m.index, end: m.index + m[0].length, value: m[0] }));
 * ```
 * @module
 */
import type { PiiMatch } from './types.ts';

/**
 * Runs `re` (which must have the `g` flag) over `text`, from offset `from` (default 0: a caller
 * passes more only when no match can start before it), and collects what `accept` returns for
 * each candidate (`undefined` drops it). The regex's `lastIndex` is reset before and after, so
 * one regex object can be shared by synchronous callers.
 *
 * @example
 * ```ts
 * findAll(text, /\bAKIA[0-9A-Z]{16}\b/g, (m) => ({ type: 'api_key', start: m.index, end: m.index + 20, value: m[0] }));
 * ```
 */
export function findAll(text: string, re: RegExp, accept: (m: RegExpExecArray) => PiiMatch | undefined, from = 0): PiiMatch[] {
  const out: PiiMatch[] = [];
  re.lastIndex = from;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const found = accept(m);
    if (found !== undefined) out.push(found);
    if (m[0].length === 0) re.lastIndex++;
  }
  re.lastIndex = 0;
  return out;
}

/**
 * A match covering `m[0]`, or the group `group` of `m` when given (needs the `d` flag).
 *
 * @example
 * ```ts
 * findAll(text, /\b\d{3}-\d{4}\b/g, (m) => span(m, 'short_number'));
 * ```
 */
export function span(m: RegExpExecArray, type: string, kind?: string): PiiMatch {
  const base = { type, start: m.index, end: m.index + m[0].length, value: m[0] };
  return kind === undefined ? base : { ...base, kind };
}
