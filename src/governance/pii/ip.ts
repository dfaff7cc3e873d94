/**
 * IP addresses, version 4 and 6 (checked by Node's own `net.isIPv4` / `net.isIPv6`).
 *
 * @example
 * ```ts
 * ipDetector.detect('from 203.0.113.7 and 2001:db8::1').map((m) => m.kind); // ['ipv4', 'ipv6']
 * ```
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { findAll } from './find.ts';
import { CharClass, findAllInRuns, scanRegions } from './runs.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

// After a delimiter that is not a word character, `.` or `:` (consumed: a leading lookbehind would
// be tried at every position), group 1 is the address. So `v1.2.3.4` and `1.2.3.4.5` are not IPs.
const IPV4 = /(?:^|[^\w.:])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?!\.?\d|\.\w|\w)/g;
// Hex groups and colons (with an optional dotted IPv4 tail), not inside a longer such run.
const IPV6 = /(?:^|[^\w:.])((?:[0-9A-Fa-f]{1,4}|:)?:(?:[0-9A-Fa-f]{0,4}:){1,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?)(?![\w:]|\.\w)/g;

// A dotted quad lies in a run of digits and dots at least 7 long, holding 4 digits at least.
const IPV4_CHARS = CharClass.Digit | CharClass.Dot;

/** The match of group 1. */
function group(m: RegExpExecArray, kind: string): PiiMatch {
  const value = m[1] ?? '';
  const start = m.index + m[0].length - value.length;
  return { type: 'ip', start, end: start + value.length, value, kind };
}

/**
 * IPv4 in dotted-quad form and IPv6 in any RFC 4291 form (`2001:db8::1`, `::1`,
 * `::ffff:192.0.2.1`). A four-part version string such as `1.2.3.4` *is* reported: it is a valid
 * IPv4 literal and nothing in the text tells them apart; one written `v1.2.3.4` is not. For IPv6,
 * at least three groups (or exactly `::1`) are needed, so `std::map` or `d::` in code and clock
 * times (`12:30:45`) are not addresses.
 *
 * @example
 * ```ts
 * ipDetector.detect('256.1.1.1').length; // 0
 * ```
 */
export const ipDetector: SyncPiiDetector = Object.freeze({
  type: 'ip',
  priority: 45,
  detect: (text: string): PiiMatch[] => {
    const v4 = findAllInRuns(text, IPV4, scanRegions(text, IPV4_CHARS, 7, 4), (m) => (isIPv4(m[1] ?? '') ? group(m, 'ipv4') : undefined));
    if (!hasIpv6Hint(text)) return v4;
    const v6 = findAll(text, IPV6, (m) => {
      const s = m[1] ?? '';
      if (!isIPv6(s)) return undefined;
      const groups = s.split(/:+/).filter((g) => g.length > 0).length;
      return groups >= 3 || s.includes('.') || s === '::1' ? group(m, 'ipv6') : undefined;
    });
    // A dotted tail of an IPv6 address (::ffff:192.0.2.1) is not a second address.
    return v6.length === 0 ? v4 : [...v6, ...v4.filter((a) => !v6.some((b) => a.start < b.end && b.start < a.end))].sort((a, b) => a.start - b.start);
  },
});

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/** Whether some `:` sits between hex digits or next to another `:` (cheap; skips prose like "Agent: hi"). */
function hasIpv6Hint(text: string): boolean {
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) {
    const after = text.charCodeAt(i + 1);
    if (after === 58 || (isHex(text.charCodeAt(i - 1)) && isHex(after))) return true;
  }
  return false;
}
