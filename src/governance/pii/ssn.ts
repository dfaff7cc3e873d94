/**
 * US Social Security numbers.
 *
 * @example
 * ```ts
 * ssnDetector.detect('SSN 536-22-1234'); // one match
 * ```
 * @module
 */
import { findAll } from './find.ts';
import { CharClass, digitGroups, findAllInRuns, scanRegions } from './runs.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

// Dashed or spaced (one separator kind).
// The delimiter before is consumed (group 1 is the area) rather than looked behind at every position.
const SSN = /(?:^|[^\w.-])((\d{3})([- ])(\d{2})\3(\d{4}))(?![\w-]|\.\d)/g;
// Nine bare digits right after an "SSN" label (looked for only when the text has such a label).
const LABELLED = /\b(?:SSN|ssn|[Ss]ocial [Ss]ecurity(?: [Nn](?:umber|o\.?))?)\W{1,4}(\d{3})(\d{2})(\d{4})(?!\w)/g;
const LABEL = /SSN|ssn|[Ss]ocial [Ss]ecurity/;
// Either form lies in a run of digits, spaces and dashes at least 9 long, holding 9 digits at least.
const SSN_CHARS = CharClass.Digit | CharClass.Space | CharClass.Dash;

/** Whether three digit groups of 3, 2 and 4 digits follow each other one character apart (`536-22-1234`); true when too many digits to tell. */
function hasSsnShape(text: string): boolean {
  const g = digitGroups(text);
  if (g === undefined) return true;
  for (let k = 0; k + 5 < g.length; k += 2) {
    if (g[k + 1]! - g[k]! === 3 && g[k + 2] === g[k + 1]! + 1 && g[k + 3]! - g[k + 2]! === 2 && g[k + 4] === g[k + 3]! + 1 && g[k + 5]! - g[k + 4]! === 4) return true;
  }
  return false;
}

function hasNineDigits(text: string): boolean {
  const groups = digitGroups(text);
  if (groups === undefined) return true;
  for (let g = 0; g < groups.length; g += 2) if (groups[g + 1]! - groups[g]! >= 9) return true;
  return false;
}

/**
 * Whether area, group and serial form an SSN the SSA could have issued: area not 000, 666 or
 * 900-999; group not 00; serial not 0000.
 *
 * @example
 * ```ts
 * isPlausibleSsn('536', '22', '1234'); // true
 * isPlausibleSsn('666', '22', '1234'); // false
 * ```
 */
export function isPlausibleSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

/**
 * US SSNs written `123-45-6789` or `123 45 6789`, and nine bare digits when labelled
 * ("SSN: 123456789"). Numbers the SSA never issues (area 000, 666, 9xx; group 00; serial 0000)
 * are not matched.
 *
 * @example
 * ```ts
 * ssnDetector.detect('000-12-3456').length; // 0
 * ```
 */
export const ssnDetector: SyncPiiDetector = Object.freeze({
  type: 'ssn',
  priority: 50,
  detect: (text: string): PiiMatch[] => {
    const runs = scanRegions(text, SSN_CHARS, 9, 9);
    if (runs.length === 0) return [];
    const out = !hasSsnShape(text) ? [] : findAllInRuns(text, SSN, runs, (m) => {
      if (!isPlausibleSsn(m[2] ?? '', m[4] ?? '', m[5] ?? '')) return undefined;
      const value = m[1] ?? '';
      const start = m.index + m[0].length - value.length;
      return { type: 'ssn', start, end: start + value.length, value };
    });
    // A labelled SSN is nine digits in a row.
    if (!hasNineDigits(text) || !LABEL.test(text)) return out;
    const bare = findAll(text, LABELLED, (m) => {
      if (!isPlausibleSsn(m[1] ?? '', m[2] ?? '', m[3] ?? '')) return undefined;
      const start = m.index + m[0].length - 9;
      return { type: 'ssn', start, end: start + 9, value: m[0].slice(-9) };
    });
    return bare.length === 0 ? out : [...out, ...bare].sort((a, b) => a.start - b.start);
  },
});
