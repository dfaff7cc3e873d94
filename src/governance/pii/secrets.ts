/**
 * Secret detectors: API keys and tokens in the formats providers publish, and JSON Web Tokens.
 *
 * @example
 * ```ts
 * apiKeyDetector.detect('OPENAI_API_KEY=sk-proj-…')[0]?.kind; // 'openai'
 * jwtDetector.detect('Authorization: Bearer eyJhbGciOi…'); // one match when the header is JSON with `alg`
 * ```
 * @module
 */
import { findAll, span } from './find.ts';
import type { PiiMatch, SyncPiiDetector } from './types.ts';

/**
 * Known key formats, as `[kind, pattern]`. The patterns are anchored by the detector on both
 * sides (no word character, `-` or `_` around the key).
 *
 * @example
 * ```ts
 * API_KEY_FORMATS.map(([kind]) => kind); // ['anthropic', 'openai', 'aws', ...]
 * ```
 */
export const API_KEY_FORMATS: readonly (readonly [kind: string, pattern: string])[] = Object.freeze([
  ['anthropic', 'sk-ant-(?:api|admin|sid)\\d{2}-[A-Za-z0-9_-]{32,}|sk-ant-[A-Za-z0-9_-]{32,}'],
  ['openai', 'sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|sk-(?!ant-)[A-Za-z0-9]{32,}|sk-(?!ant-)[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}'],
  ['aws', '(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}'],
  ['github', '(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}'],
  ['slack', 'xox[abpr]-[A-Za-z0-9-]{10,250}'],
  ['google', 'AIza[0-9A-Za-z_-]{35}'],
  ['stripe', '(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247}'],
] as const);

const KEY = new RegExp(API_KEY_FORMATS.map(([kind, p]) => `(?<${kind}>${p})`).join('|'), 'g');
const KEY_AROUND = /[\w-]/;
// The same alternatives, tried only where a key can start (see KEY_PREFIXES).
const KEY_AT = new RegExp(KEY.source, 'y');

/**
 * The literal prefixes every key of {@link API_KEY_FORMATS} starts with (a test holds the two
 * lists together). The detector looks for these, not for the regex, at every position.
 *
 * @example
 * ```ts
 * KEY_PREFIXES.includes('AKIA'); // true
 * ```
 */
export const KEY_PREFIXES: readonly string[] = Object.freeze([
  'sk-', 'sk_', 'rk_', 'AKIA', 'ASIA', 'ABIA', 'ACCA', 'ghp_', 'gho_', 'ghs_', 'ghu_', 'ghr_', 'github_pat_', 'xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'AIza',
]);

// Each prefix is found through one of its characters that prose seldom holds: its `-` or `_`,
// else its leading `A`. Per anchor character, each prefix as [prefix, offset of the anchor in it,
// offset of a second character checked before the whole prefix, that character's code].
const ANCHORS: readonly (readonly [anchor: string, prefixes: readonly (readonly [string, number, number, number])[]])[] = ['-', '_', 'A'].map((a) => [
  a,
  KEY_PREFIXES.filter((p) => anchorOf(p) === a).map((p) => {
    const at = p.indexOf(a);
    const other = at + 1 < p.length ? at + 1 : at - 1;
    return [p, at, other, p.charCodeAt(other)] as const;
  }),
]);

function anchorOf(prefix: string): string {
  return prefix.includes('-') ? '-' : prefix.includes('_') ? '_' : prefix[0]!;
}

/**
 * Offsets where one of {@link KEY_PREFIXES} starts, ascending (empty for most texts), or
 * undefined for a text so full of anchors (a Markdown table's `---`) that a regex scan is cheaper.
 */
function keyStarts(text: string): number[] | undefined {
  const out: number[] = [];
  let budget = 64 + (text.length >> 5);
  for (let a = 0; a < ANCHORS.length; a++) {
    const group = ANCHORS[a]!;
    const anchor = group[0];
    const prefixes = group[1];
    for (let i = text.indexOf(anchor); i !== -1; i = text.indexOf(anchor, i + 1)) {
      if (--budget < 0) return undefined;
      for (let k = 0; k < prefixes.length; k++) {
        const p = prefixes[k]!;
        const start = i - p[1];
        if (start >= 0 && text.charCodeAt(start + p[2]) === p[3] && text.startsWith(p[0], start)) out.push(start);
      }
    }
  }
  return out.length > 1 ? out.sort((x, y) => x - y) : out;
}

/**
 * API keys and tokens: OpenAI (`sk-…`, `sk-proj-…`), Anthropic (`sk-ant-…`), AWS access key ids
 * (`AKIA…`), GitHub (`ghp_`, `gho_`, `ghs_`, `github_pat_`…), Slack (`xoxb-`, `xoxa-`, `xoxp-`,
 * `xoxr-`), Google (`AIza…`) and Stripe (`sk_live_`, `rk_live_`, and `_test_`). `kind` names the
 * provider. A prefix with too short a body (`sk-abc`) is not a key.
 *
 * @example
 * ```ts
 * apiKeyDetector.detect('AKIAIOSFODNN7EXAMPLE')[0]?.kind; // 'aws'
 * ```
 */
export const apiKeyDetector: SyncPiiDetector = Object.freeze({
  type: 'api_key',
  priority: 80,
  detect: (text: string): PiiMatch[] => {
    const starts = keyStarts(text);
    if (starts === undefined) return findAll(text, KEY, (m) => acceptKey(text, m));
    const out: PiiMatch[] = [];
    // What a global scan of KEY finds: every match starts at a prefix, and the scan goes on after each match.
    let after = 0;
    for (const at of starts) {
      if (at < after) continue;
      KEY_AT.lastIndex = at;
      const m = KEY_AT.exec(text);
      if (m === null) continue;
      after = at + m[0].length;
      const found = acceptKey(text, m);
      if (found !== undefined) out.push(found);
    }
    KEY_AT.lastIndex = 0;
    return out;
  },
});

function acceptKey(text: string, m: RegExpExecArray): PiiMatch | undefined {
  const before = m.index > 0 ? text[m.index - 1] : '';
  const after = text[m.index + m[0].length] ?? '';
  if ((before !== '' && KEY_AROUND.test(before)) || (after !== '' && KEY_AROUND.test(after))) return undefined;
  const kind = Object.entries(m.groups ?? {}).find(([, v]) => v !== undefined)?.[0];
  return span(m, 'api_key', kind);
}

const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![\w-])/g;

/**
 * Whether a base64url JWT header decodes to a JSON object with a string `alg`.
 *
 * @example
 * ```ts
 * isJwtHeader('eyJhbGciOiJIUzI1NiJ9'); // true ({"alg":"HS256"})
 * ```
 */
export function isJwtHeader(part: string): boolean {
  return jwtAlg(part) !== undefined;
}

function jwtAlg(part: string): string | undefined {
  const json = Buffer.from(part, 'base64url').toString('utf8');
  if (!json.startsWith('{') || !json.endsWith('}')) return undefined;
  try {
    const alg: unknown = (JSON.parse(json) as { alg?: unknown } | null)?.alg;
    return typeof alg === 'string' ? alg : undefined;
  } catch {
    return undefined; // not JSON: not a JWT header
  }
}

/**
 * JSON Web Tokens (JWS compact form): three base64url parts whose header decodes to JSON with
 * `alg`; the signature may be empty only when `alg` is `none`. Look-alikes (`eyJ…` base64 of other JSON, dotted ids) are not matched.
 *
 * @example
 * ```ts
 * jwtDetector.detect(token)[0]?.type; // 'jwt'
 * ```
 */
export const jwtDetector: SyncPiiDetector = Object.freeze({
  type: 'jwt',
  priority: 85,
  detect: (text: string): PiiMatch[] => {
    const first = indexOfEyJ(text);
    if (first === -1) return [];
    // Every match starts with `eyJ`: the scan starts at the first one.
    return findAll(
      text,
      JWT,
      (m) => {
        const alg = jwtAlg(m[0].slice(0, m[0].indexOf('.')));
        // Only an unsecured token (alg "none") may have an empty signature.
        return alg !== undefined && (!m[0].endsWith('.') || alg.toLowerCase() === 'none') ? span(m, 'jwt') : undefined;
      },
      first,
    );
  },
});

/** `text.indexOf('eyJ')`, found through the `J` (rare in prose) rather than the `e` (common). */
function indexOfEyJ(text: string): number {
  let budget = 64;
  for (let i = text.indexOf('J', 2); i !== -1; i = text.indexOf('J', i + 1)) {
    if (text.charCodeAt(i - 1) === 121 && text.charCodeAt(i - 2) === 101) return i - 2;
    if (--budget < 0) return text.indexOf('eyJ', i - 1); // many capital Js: search the whole pattern
  }
  return -1;
}
