/**
 * A seeded generator of labelled text for measuring the PII detectors: every structured type
 * (email, phone, credit_card, iban, ssn, ip, api_key, jwt) and high_entropy, each in prose, in
 * JSON and in code, plus near-misses (invalid Luhn digits, bad IBAN checksums, SSNs never
 * issued, malformed addresses, short key prefixes, look-alike tokens) and mixed items holding
 * several values. Labels carry exact offsets. Deterministic for a given seed.
 *
 * Phone numbers are drawn from templates of real numbering plans and kept only when
 * libphonenumber (the numbering-plan authority the detector also uses) calls them valid; every
 * other value is made valid by construction (Luhn, mod-97, SSA rules, RFC formats).
 *
 * @example
 * ```ts
 * const items = generatePiiCorpus({ seed: 13 });
 * items[0]; // { text: 'Please reach me at …', context: 'prose', labels: [{ type: 'email', start: 19, end: 38, value: '…' }] }
 * ```
 * @module
 */
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { createRandom } from '../../src/primitives/random.ts';

/**
 * One labelled span: `text.slice(start, end) === value`.
 *
 * @example
 * ```ts
 * const l: CorpusLabel = { type: 'ssn', start: 4, end: 15, value: '536-22-1234' };
 * ```
 */
export interface CorpusLabel {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/**
 * One corpus text with its labels (empty for a near-miss).
 *
 * @example
 * ```ts
 * const nearMisses = generatePiiCorpus().filter((i: CorpusItem) => i.nearMissOf !== undefined);
 * ```
 */
export interface CorpusItem {
  readonly text: string;
  readonly labels: readonly CorpusLabel[];
  readonly context: 'prose' | 'json' | 'code';
  /** The type a near-miss imitates. */
  readonly nearMissOf?: string;
}

/**
 * The types with precision and recall targets.
 *
 * @example
 * ```ts
 * STRUCTURED_TYPES.includes('jwt'); // true
 * ```
 */
export const STRUCTURED_TYPES = ['email', 'phone', 'credit_card', 'iban', 'ssn', 'ip', 'api_key', 'jwt'] as const;

type Rng = { int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean; digits(n: number): string; chars(alphabet: string, n: number): string };

function rng(seed: number): Rng {
  const r = createRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r.next() * (hi - lo + 1));
  const chars = (alphabet: string, n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[int(0, alphabet.length - 1)];
    return s;
  };
  return { int, pick: (xs) => xs[int(0, xs.length - 1)]!, chance: (p) => r.next() < p, digits: (n) => chars('0123456789', n), chars };
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = `${LOWER}${UPPER}0123456789`;
const B64URL = `${ALNUM}-_`;
const HEX = '0123456789abcdef';

// ---- valid values --------------------------------------------------------------------------

const FIRST = ['ada', 'bob', 'carla', 'dmitri', 'eve', 'farah', 'gus', 'hiro', 'ines', 'jon', 'kemal', 'lena', 'maria', 'noor', 'oscar'];
const LAST = ['lovelace', 'smith', 'garcia', 'ivanov', 'nguyen', 'khan', 'mueller', 'tanaka', 'rossi', 'okafor'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.co.uk', 'uni.example.edu', 'example.io', 'example.de', 'sub.example.dev'];

function email(g: Rng): string {
  const local = g.pick([
    () => `${g.pick(FIRST)}.${g.pick(LAST)}`,
    () => `${g.pick(FIRST)}${g.int(1, 999)}`,
    () => `${g.pick(FIRST)}+${g.pick(['news', 'billing', 'x'])}`,
    () => `${g.pick(FIRST)[0]}_${g.pick(LAST)}`,
    () => g.pick(FIRST).toUpperCase(),
  ])();
  return `${local}@${g.pick(DOMAINS)}`;
}

const US_AREAS = ['201', '212', '213', '305', '312', '404', '415', '503', '512', '617', '646', '702', '720', '818', '917'];

function phoneCandidate(g: Rng): string {
  const area = g.pick(US_AREAS);
  const ex = `${g.int(2, 9)}${g.digits(2)}`;
  const line = g.digits(4);
  return g.pick([
    () => `(${area}) ${ex}-${line}`,
    () => `${area}-${ex}-${line}`,
    () => `${area}.${ex}.${line}`,
    () => `+1 ${area} ${ex} ${line}`,
    () => `+1-${area}-${ex}-${line}`,
    () => `+44 20 7${g.digits(3)} ${g.digits(4)}`,
    () => `+44 7${g.int(400, 999)} ${g.digits(6)}`,
    () => `+49 30 ${g.digits(8)}`,
    () => `+33 ${g.int(1, 7)} ${g.digits(2)} ${g.digits(2)} ${g.digits(2)} ${g.digits(2)}`,
    () => `+91 9${g.digits(4)} ${g.digits(5)}`,
    () => `+81 3-${g.digits(4)}-${g.digits(4)}`,
    () => `+61 2 ${g.digits(4)} ${g.digits(4)}`,
    () => `+55 11 9${g.digits(4)}-${g.digits(4)}`,
  ])();
}

function phone(g: Rng): string {
  for (;;) {
    const p = phoneCandidate(g);
    if (isValidPhoneNumber(p, 'US')) return p;
  }
}

function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardDigits(g: Rng): string {
  const [prefix, length] = g.pick([
    ['4', 16],
    ['4', 16],
    ['4', 13],
    [`5${g.int(1, 5)}`, 16],
    [`22${g.int(21, 99)}`, 16],
    [`3${g.pick(['4', '7'])}`, 15],
    ['6011', 16],
    [`65`, 16],
  ] as const);
  const body = prefix + g.digits(length - prefix.length - 1);
  return body + luhnDigit(body);
}

function formatCard(g: Rng, d: string): string {
  const sep = g.pick(['', ' ', '-']);
  if (sep === '') return d;
  if (d.length === 15) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  if (d.length === 13) return d;
  return d.match(/.{4}/g)!.join(sep);
}

const card = (g: Rng): string => formatCard(g, cardDigits(g));

const IBAN_SPECS: Record<string, string> = { DE: 'n18', GB: 'a4n14', NL: 'a4n10', AT: 'n16', CH: 'n17', IE: 'a4n14', IT: 'a1n22', DK: 'n14', SE: 'n20', FI: 'n14' };

function ibanCheck(cc: string, bban: string): string {
  let m = 0;
  for (const ch of `${bban}${cc}00`) {
    const v = ch >= 'A' && ch <= 'Z' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const c of v) m = (m * 10 + Number(c)) % 97;
  }
  return String(98 - m).padStart(2, '0');
}

function ibanElectronic(g: Rng): string {
  const cc = g.pick(Object.keys(IBAN_SPECS));
  const bban = IBAN_SPECS[cc]!.match(/[an]\d+/g)!.map((p) => (p[0] === 'a' ? g.chars(UPPER, Number(p.slice(1))) : g.digits(Number(p.slice(1))))).join('');
  return `${cc}${ibanCheck(cc, bban)}${bban}`;
}

const printIban = (e: string): string => e.match(/.{1,4}/g)!.join(' ');
const iban = (g: Rng): string => (g.chance(0.5) ? printIban(ibanElectronic(g)) : ibanElectronic(g));

function ssnParts(g: Rng): [string, string, string] {
  let area = g.int(1, 899);
  if (area === 666) area = 667;
  return [String(area).padStart(3, '0'), String(g.int(1, 99)).padStart(2, '0'), String(g.int(1, 9999)).padStart(4, '0')];
}
const ssn = (g: Rng): string => ssnParts(g).join(g.chance(0.8) ? '-' : ' ');

function ip(g: Rng): string {
  if (g.chance(0.6)) return [g.int(1, 223), g.int(0, 255), g.int(0, 255), g.int(1, 254)].join('.');
  const groups = Array.from({ length: 8 }, () => g.chars(HEX, g.int(1, 4)).replace(/^0+(?=.)/, ''));
  return g.pick([
    () => groups.join(':'),
    () => `2001:db8::${groups[0]}:${groups[1]}`,
    () => `fe80::${groups.slice(0, 4).join(':')}`,
    () => `${groups[0]}:${groups[1]}::${groups[2]}`,
    () => `::ffff:${g.int(1, 223)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`,
  ])();
}

function apiKey(g: Rng): string {
  return g.pick([
    () => `sk-proj-${g.chars(B64URL, g.int(48, 150))}`,
    () => `sk-${g.chars(ALNUM, 48)}`,
    () => `sk-ant-api03-${g.chars(B64URL, 93)}AA`,
    () => `AKIA${g.chars(`${UPPER}234567`, 16)}`,
    () => `${g.pick(['ghp', 'gho', 'ghs'])}_${g.chars(ALNUM, 36)}`,
    () => `github_pat_${g.chars(ALNUM, 22)}_${g.chars(ALNUM, 59)}`,
    () => `xox${g.pick(['a', 'b', 'p', 'r'])}-${g.digits(12)}-${g.digits(13)}-${g.chars(ALNUM, 24)}`,
    () => `AIza${g.chars(B64URL, 35)}`,
    () => `${g.pick(['sk', 'rk'])}_live_${g.chars(ALNUM, g.int(24, 99))}`,
  ])();
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

function jwt(g: Rng): string {
  const header = b64(g.chance(0.5) ? { alg: g.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' } : { alg: g.pick(['HS512', 'RS384']), kid: g.chars(ALNUM, 8) });
  const payload = b64({ sub: g.digits(8), name: `${g.pick(FIRST)} ${g.pick(LAST)}`, iat: 1_700_000_000 + g.int(0, 9_999_999), ...(g.chance(0.5) ? { scope: 'read write' } : {}) });
  return `${header}.${payload}.${g.chars(B64URL, g.pick([43, 86, 342]))}`;
}

function secretToken(g: Rng): string {
  for (;;) {
    const t = g.chars(ALNUM, g.int(24, 48));
    if (/\d/.test(t) && /[A-Za-z]/.test(t)) return t;
  }
}

const VALUES: Record<string, (g: Rng) => string> = { email, phone, credit_card: card, iban, ssn, ip, api_key: apiKey, jwt, high_entropy: secretToken };

// ---- near-misses ---------------------------------------------------------------------------

const NEAR_MISSES: Record<string, (g: Rng) => string> = {
  email: (g) => g.pick([`${g.pick(FIRST)}@localhost`, `${g.pick(FIRST)} at example dot com`, `@${g.pick(FIRST)}`, `${g.pick(FIRST)}@x.y`, `npm i left-pad@1.${g.int(0, 9)}.${g.int(0, 9)}`]),
  phone: (g) =>
    g.pick([
      `${g.int(2, 9)}${g.digits(2)}-${g.digits(4)}`,
      `ext. ${g.digits(4)}`,
      `20${g.int(10, 29)}-0${g.int(1, 9)}-${g.int(10, 28)}`,
      `order #${g.digits(8)}`,
      `123-${g.digits(3)}-${g.digits(4)}`,
      `${g.digits(3)} ${g.digits(2)}`,
    ]),
  credit_card: (g) => {
    const d = cardDigits(g);
    return formatCard(g, d.slice(0, -1) + String((Number(d.at(-1)) + g.int(1, 9)) % 10));
  },
  iban: (g) => {
    const e = ibanElectronic(g);
    const i = g.int(4, e.length - 1);
    const c = e[i]!;
    const swapped = c >= '0' && c <= '9' ? String((Number(c) + g.int(1, 9)) % 10) : c === 'A' ? 'B' : 'A';
    const bad = e.slice(0, i) + swapped + e.slice(i + 1);
    return g.chance(0.5) ? printIban(bad) : bad;
  },
  ssn: (g) => {
    const [a, b, c] = ssnParts(g);
    return g.pick([`000-${b}-${c}`, `666-${b}-${c}`, `9${g.digits(2)}-${b}-${c}`, `${a}-00-${c}`, `${a}-${b}-0000`]);
  },
  ip: (g) => g.pick([`${g.int(256, 999)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(0, 255)}`, `${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}`, `v${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 9)}`, `${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 9)}`, `std::vector<int>`, `${g.int(10, 23)}:${g.int(10, 59)}:${g.int(10, 59)}`]),
  api_key: (g) => g.pick([`sk-${g.chars(ALNUM, 8)}`, `sk-proj-${g.chars(ALNUM, 6)}`, `AKIA${g.chars(UPPER, 8)}`, `ghp_${g.chars(ALNUM, 10)}`, `xoxb-${g.digits(4)}`, `sk_live_${g.chars(ALNUM, 6)}`, `task-${g.pick(LAST)}-${g.digits(3)}`]),
  jwt: (g) => g.pick([`${b64({ typ: 'JWT' })}.${b64({ sub: g.digits(6) })}.${g.chars(B64URL, 43)}`, `${b64({ alg: 'HS256' })}.${b64({ sub: g.digits(6) })}`, `eyJ${g.chars(ALNUM, 20)}.${g.chars(ALNUM, 20)}.${g.chars(ALNUM, 20)}`]),
  high_entropy: (g) =>
    g.pick([
      `${g.chars(HEX, 8)}-${g.chars(HEX, 4)}-4${g.chars(HEX, 3)}-a${g.chars(HEX, 3)}-${g.chars(HEX, 12)}`,
      g.chars(HEX, 40),
      g.pick(['internationalization', 'antidisestablishmentarianism', 'get_user_profile_by_identifier', 'ThisIsAVeryLongCamelCaseIdentifier']),
    ]),
};

// ---- contexts ------------------------------------------------------------------------------

const LABEL: Record<string, string> = { email: 'email', phone: 'phone', credit_card: 'card number', iban: 'IBAN', ssn: 'SSN', ip: 'IP address', api_key: 'API key', jwt: 'token', high_entropy: 'session token' };
const FIELD: Record<string, string> = { email: 'email', phone: 'phone', credit_card: 'card', iban: 'iban', ssn: 'ssn', ip: 'client_ip', api_key: 'api_key', jwt: 'access_token', high_entropy: 'session' };
const VAR: Record<string, string> = { email: 'EMAIL', phone: 'PHONE', credit_card: 'CARD', iban: 'IBAN', ssn: 'SSN', ip: 'HOST', api_key: 'API_KEY', jwt: 'TOKEN', high_entropy: 'SECRET' };

const PROSE = [
  (l: string, v: string) => `Please update my ${l} to ${v} before Friday.`,
  (l: string, v: string) => `Hi team, the ${l} on file is ${v}; let me know if anything looks off.`,
  (_l: string, v: string) => `${v} is what the customer gave us during the call yesterday.`,
  (l: string, v: string) => `Summarise this ticket: user reported that their ${l} (${v}) was rejected twice.`,
  (l: string, v: string) => `Note from support — ${l}: ${v}. Escalate if the refund is not processed in 3 days.`,
];
const JSON_T = [
  (f: string, v: string) => `{"id": 1842, "${f}": "${v}", "status": "active"}`,
  (f: string, v: string) => `{"user": {"name": "sam", "${f}": "${v}"}, "tags": ["vip", "2024"]}`,
  (f: string, v: string) => `[{"event": "update", "field": "${f}", "value": "${v}"}]`,
];
const CODE = [
  (k: string, v: string) => `const ${k.toLowerCase()} = "${v}";`,
  (k: string, v: string) => `export ${k}='${v}'`,
  (k: string, v: string) => `config.set("${k.toLowerCase()}", '${v}')  # set by deploy script`,
  (k: string, v: string) => `    ${k.toLowerCase()}: ${v}\n    retries: 3`,
  (_k: string, v: string) => `curl -H "X-Debug: ${v}" https://api.example.com/v1/items`,
];

function place(g: Rng, type: string, value: string, context: CorpusItem['context']): { text: string; start: number } {
  const text =
    context === 'prose' ? g.pick(PROSE)(LABEL[type]!, value) : context === 'json' ? g.pick(JSON_T)(FIELD[type]!, value) : g.pick(CODE)(VAR[type]!, value);
  return { text, start: text.indexOf(value) };
}

/**
 * Options of {@link generatePiiCorpus}.
 *
 * @example
 * ```ts
 * const opts: CorpusOptions = { seed: 7, perTypeAndContext: 10, mixed: 0 };
 * ```
 */
export interface CorpusOptions {
  readonly seed?: number;
  /** Positive items per type and context. */
  readonly perTypeAndContext?: number;
  /** Near-miss items per type and context. */
  readonly nearMissesPerTypeAndContext?: number;
  /** Items with several values each. */
  readonly mixed?: number;
}

/**
 * Generates the labelled corpus (default: 80 positives and 12 near-misses per type and
 * context, 150 mixed items: about 2,650 items).
 *
 * @example
 * ```ts
 * const small = generatePiiCorpus({ seed: 1, perTypeAndContext: 5 });
 * ```
 */
export function generatePiiCorpus(options: CorpusOptions = {}): CorpusItem[] {
  const g = rng(options.seed ?? 13);
  const per = options.perTypeAndContext ?? 80;
  const near = options.nearMissesPerTypeAndContext ?? 12;
  const items: CorpusItem[] = [];
  const contexts = ['prose', 'json', 'code'] as const;
  for (const type of Object.keys(VALUES)) {
    for (const context of contexts) {
      for (let i = 0; i < per; i++) {
        const value = VALUES[type]!(g);
        const { text, start } = place(g, type, value, context);
        items.push({ text, context, labels: [{ type, start, end: start + value.length, value }] });
      }
      for (let i = 0; i < near; i++) {
        const { text } = place(g, type, NEAR_MISSES[type]!(g), context);
        items.push({ text, context, labels: [], nearMissOf: type });
      }
    }
  }
  for (let i = 0; i < (options.mixed ?? 150); i++) {
    const types = [g.pick(STRUCTURED_TYPES), g.pick(STRUCTURED_TYPES), g.pick(STRUCTURED_TYPES)];
    let text = g.pick(['Forwarded details:', 'Customer record follows.', 'Debug dump:']);
    const labels: CorpusLabel[] = [];
    for (const type of types) {
      const value = VALUES[type]!(g);
      text += ` ${LABEL[type]}: `;
      labels.push({ type, start: text.length, end: text.length + value.length, value });
      text += `${value};`;
    }
    items.push({ text, context: 'prose', labels });
  }
  return items;
}
