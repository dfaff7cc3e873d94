/**
 * Secrets out of log lines: the values of the credentials the process was given (API keys, tokens,
 * passwords in its environment or settings files) and anything shaped like a key (provider API keys,
 * JSON Web Tokens, `Bearer`/`Basic` credentials) become `[redacted]` wherever they appear in text.
 * @module
 */
import { apiKeyDetector, jwtDetector } from '../governance/pii/secrets.ts';
import type { PiiMatch } from '../governance/pii/types.ts';
import { scrubText } from '../providers/secrets.ts';

const REDACTED = '[redacted]';
/** Shorter values are not worth scrubbing (and would mangle ordinary text). */
const MIN_SECRET = 6;
/** Variable names whose values are credentials. */
const SECRET_NAME = /(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;
/** `OTEL_EXPORTER_OTLP_HEADERS` and its per-signal variants: `name=value,...`, values often credentials. */
const HEADERS_NAME = /^OTEL_EXPORTER_OTLP(?:_[A-Z]+)?_HEADERS$/;
const SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/**
 * The credentials in an environment: the values of variables named like a key, token, secret or
 * password (`OPENAI_API_KEY`, `KAFKA_SASL_PASSWORD`, `GITHUB_TOKEN`, ...), and the header values of
 * `OTEL_EXPORTER_OTLP_*HEADERS` (with and without their `Bearer ` scheme).
 *
 * @example
 * ```ts
 * secretsFromEnv({ OPENAI_API_KEY: 'sk-test-123456', HOME: '/root' }); // ['sk-test-123456']
 * ```
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (SECRET_NAME.test(name)) out.add(value);
    else if (HEADERS_NAME.test(name)) {
      for (const pair of value.split(',')) {
        const eq = pair.indexOf('=');
        if (eq < 0) continue;
        let v = pair.slice(eq + 1).trim();
        try {
          v = decodeURIComponent(v);
        } catch {
          // kept as written
        }
        out.add(v);
        const m = /^\S+\s+(.+)$/.exec(v);
        if (m !== null) out.add(m[1]!);
      }
    }
  }
  return [...out].filter((s) => s.trim().length >= MIN_SECRET);
}

/**
 * A function that returns its text with every secret of `secrets` and every key-like string
 * (provider API keys, JWTs, `Bearer`/`Basic`/`Token` credentials) replaced by `[redacted]`.
 *
 * @example
 * ```ts
 * const scrub = createScrubber(['hunter2-password']);
 * scrub('login with hunter2-password'); // 'login with [redacted]'
 * scrub('Authorization: Bearer abcdefgh12345'); // 'Authorization: Bearer [redacted]'
 * ```
 */
export function createScrubber(secrets: readonly string[]): (text: string) => string {
  const known = [...new Set(secrets.filter((s) => s.trim().length >= MIN_SECRET))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = known.length === 0 ? text : scrubText(text, known);
    const found: PiiMatch[] = [...apiKeyDetector.detect(out), ...jwtDetector.detect(out)];
    if (found.length > 0) {
      found.sort((a, b) => b.start - a.start);
      let end = Infinity;
      for (const m of found) {
        if (m.end > end) continue; // overlaps one already replaced
        out = out.slice(0, m.start) + REDACTED + out.slice(m.end);
        end = m.start;
      }
    }
    return out.replace(SCHEME, `$1 ${REDACTED}`);
  };
}

/**
 * `value` with `scrub` applied to every string in it (plain objects and arrays, `depth` levels
 * deep); the same object when nothing changed, a copy otherwise (the caller's object is never modified).
 *
 * @example
 * ```ts
 * scrubDeep({ msg: 'key sk-...' }, scrub); // { msg: 'key [redacted]' }
 * ```
 */
export function scrubDeep(value: unknown, scrub: (text: string) => string, depth = 6): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth <= 0 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const copy = value.map((v: unknown) => {
      const s = scrubDeep(v, scrub, depth - 1);
      if (s !== v) changed = true;
      return s;
    });
    return changed ? copy : value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // Errors, Buffers, class instances: left to serializers
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const s = scrubDeep(v, scrub, depth - 1);
    if (s !== v) (copy ??= { ...(value as Record<string, unknown>) })[k] = s;
  }
  return copy ?? value;
}
