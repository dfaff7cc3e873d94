/**
 * Redaction: replace what the detectors find by a mask, a keyed hash or a typed placeholder, in
 * a text or in every string of a JSON value (tool arguments, outputs, events, audit records).
 *
 * @example
 * ```ts
 * redactPiiSync('mail ada@example.com', { mode: 'mask' }).text;                  // 'mail ****'
 * redactPiiSync('mail ada@example.com', { mode: 'hash', key: secret }).text;     // 'mail <EMAIL:5b1f0c2e9a47>'
 * redactPiiSync('mail ada@example.com', { mode: 'placeholder', vault }).text;    // 'mail [EMAIL_1]'
 * ```
 * @module
 */
import { createHmac, createSecretKey } from 'node:crypto';
import * as z from 'zod';
import { ValidationError, toIssues } from '../../errors.ts';
import { createPiiScanner, scanOptionsShape, type PiiScanner, type ScanOptions } from './scan.ts';
import type { PiiMatch } from './types.ts';
import { BoundedMemo } from './memo.ts';
import { PiiVault } from './vault.ts';

const typeName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a type name such as credit_card');

const redactOptions = z.discriminatedUnion('mode', [
  z.strictObject({
    ...scanOptionsShape,
    mode: z.literal('mask'),
    /** Mask text (default `****`); its length never depends on the value's. */
    mask: z.string().min(1).max(32).default('****'),
    /** Per type, how many trailing letters or digits stay visible, e.g. `{ credit_card: 4 }`. */
    keepLast: z.record(typeName, z.number().int().min(0).max(8)).default({}),
  }),
  z.strictObject({
    ...scanOptionsShape,
    mode: z.literal('hash'),
    /** HMAC-SHA-256 key: at least 16 bytes (a string counts its UTF-8 bytes). */
    key: z.union([z.string(), z.instanceof(Uint8Array)]).refine((k) => (typeof k === 'string' ? Buffer.byteLength(k) : k.byteLength) >= 16, 'at least 16 bytes'),
    /** Hex characters of the digest kept (default 12). */
    length: z.number().int().min(8).max(64).default(12),
  }),
  z.strictObject({
    ...scanOptionsShape,
    mode: z.literal('placeholder'),
    /** The run's vault: it maps placeholders back (`vault.restore(text)`). */
    vault: z.instanceof(PiiVault),
  }),
]);

/**
 * Options of {@link redactPii}: the scan options plus a `mode`.
 * - `mask`: each match becomes `mask` (default `****`), keeping `keepLast[type]` trailing letters or digits.
 * - `hash`: each match becomes `<TYPE:hex>`, the first `length` hex characters of HMAC-SHA-256(key, value):
 *   equal values give equal tokens (joins and counts still work), nobody without the key can test a guess.
 *   A redactor keeps the tokens of its last 512 values (in memory until pushed out), so a value seen again costs no HMAC.
 * - `placeholder`: each match becomes `[TYPE_n]`, recorded in `vault` so the run can restore it.
 *
 * @example
 * ```ts
 * const opts: RedactOptions = { mode: 'mask', keepLast: { credit_card: 4 }, types: ['credit_card'] };
 * ```
 */
export type RedactOptions = ScanOptions &
  (
    | { readonly mode: 'mask'; readonly mask?: string; readonly keepLast?: Readonly<Record<string, number>> }
    | { readonly mode: 'hash'; readonly key: string | Uint8Array; readonly length?: number }
    | { readonly mode: 'placeholder'; readonly vault: PiiVault }
  );

/**
 * What a text redaction returns: the redacted text and the matches (with their original values,
 * so keep them out of logs; `matches.map((m) => m.type)` is safe to record).
 *
 * @example
 * ```ts
 * const { text, matches } = redactPiiSync(prompt, { mode: 'mask' });
 * ```
 */
export interface PiiRedaction {
  readonly text: string;
  readonly matches: readonly PiiMatch[];
}

/**
 * A redactor with its options checked once: what policy middleware holds per rule.
 *
 * @example
 * ```ts
 * const redactor = createPiiRedactor({ mode: 'hash', key: process.env.PII_KEY! });
 * redactor.redactSync(prompt).text;
 * redactor.redactValueSync({ args: { email: 'ada@example.com' } });
 * ```
 */
export interface PiiRedactor {
  readonly scanner: PiiScanner;
  /**
   * What one finding becomes in this redactor's mode (`****`, `<EMAIL:…>`, `[EMAIL_1]`): for a
   * caller that scanned the text already (policy rules scan a prompt once for every rule).
   */
  replace(m: PiiMatch): string;
  redact(text: string): Promise<PiiRedaction>;
  /** Synchronous detectors only (throws `PII_DETECTOR_ASYNC` otherwise). */
  redactSync(text: string): PiiRedaction;
  /** A copy of `value` with every string (and every integer that scans as PII) redacted. */
  redactValue<T>(value: T): Promise<T>;
  /** Synchronous detectors only. */
  redactValueSync<T>(value: T): T;
  /**
   * The same detectors in placeholder mode with another vault (one per run), without checking
   * the options again: cheap enough to call at every run start.
   */
  withVault(vault: PiiVault): PiiRedactor;
}

/**
 * Makes a {@link PiiRedactor}. Throws a `ValidationError` (`OPTIONS_INVALID`) naming the bad field.
 *
 * @example
 * ```ts
 * const vault = new PiiVault();
 * const redactor = createPiiRedactor({ mode: 'placeholder', vault });
 * const safe = redactor.redactSync(prompt).text;
 * const answer = vault.restore(await callModel(safe));
 * // next run: same detectors, a fresh vault
 * const next = redactor.withVault(new PiiVault());
 * ```
 */
export function createPiiRedactor(options: RedactOptions): PiiRedactor {
  const r = redactOptions.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'PII redaction options are invalid', toIssues(r.error.issues, ['options']));
  const o = r.data;
  const scanner = createPiiScanner({ ...(o.detectors === undefined ? {} : { detectors: o.detectors }), ...(o.types === undefined ? {} : { types: o.types }) });
  return build(scanner, replacer(o));
}

function build(scanner: PiiScanner, replace: (m: PiiMatch) => string): PiiRedactor {
  const apply = (text: string, matches: readonly PiiMatch[]): PiiRedaction => {
    if (matches.length === 0) return { text, matches };
    let out = '';
    let at = 0;
    for (const m of matches) {
      out += text.slice(at, m.start) + replace(m);
      at = m.end;
    }
    return { text: out + text.slice(at), matches };
  };
  const redactSync = (text: string): PiiRedaction => apply(text, scanner.scanSync(text));
  return Object.freeze({
    scanner,
    replace,
    redact: async (text: string) => apply(text, await scanner.scan(text)),
    redactSync,
    async redactValue<T>(value: T): Promise<T> {
      const strings: string[] = [];
      walk(value, (s) => (strings.push(s), s));
      const done = await Promise.all(strings.map(async (s) => apply(s, await scanner.scan(s)).text));
      let i = 0;
      return walk(value, () => done[i++] ?? '') as T;
    },
    redactValueSync: <T>(value: T): T => walk(value, (s) => redactSync(s).text) as T,
    withVault(vault: PiiVault): PiiRedactor {
      if (!(vault instanceof PiiVault)) throw new ValidationError('OPTIONS_INVALID', 'withVault needs a PiiVault', [{ code: 'invalid_type', path: ['vault'], message: 'expected a PiiVault' }]);
      return build(scanner, (m) => vault.placeholder(m.type, m.value));
    },
  });
}

// Recent hash tokens kept per redactor.
const HASH_MEMO_CAPACITY = 512;

function replacer(o: z.output<typeof redactOptions>): (m: PiiMatch) => string {
  switch (o.mode) {
    case 'mask':
      return (m) => {
        const keep = o.keepLast[m.type] ?? 0;
        if (keep === 0) return o.mask;
        const visible = m.value.replace(/[^A-Za-z0-9]/g, '');
        // Never reveal more than a third of a value, whatever keepLast says.
        return o.mask + visible.slice(visible.length - Math.min(keep, Math.floor(visible.length / 3)));
      };
    case 'hash': {
      // A KeyObject made once: cheaper per match than handing createHmac the raw key each time.
      const key = createSecretKey(typeof o.key === 'string' ? Buffer.from(o.key, 'utf8') : o.key);
      const length = o.length;
      // An HMAC costs a few µs; values recur from call to call (a conversation's history), so recent tokens are kept.
      const tokens = new BoundedMemo<string, string>(HASH_MEMO_CAPACITY);
      return (m) => {
        const id = `${m.type}\u0000${m.value}`;
        return tokens.get(id) ?? tokens.set(id, `<${m.type.toUpperCase()}:${createHmac('sha256', key).update(m.value).digest('hex').slice(0, length)}>`);
      };
    }
    case 'placeholder':
      return (m) => o.vault.placeholder(m.type, m.value);
  }
}

const MIN_PII_INTEGER = 1_000_000; // seven digits: the shortest phone numbers

/**
 * Copies a JSON-like value, passing every string through `f`. Objects with `toJSON` are
 * converted first (as `JSON.stringify` would), other objects are walked by their own enumerable
 * keys (keys are not redacted), integers of seven or more digits are passed as strings and kept
 * as numbers unless `f` changed them, a repeated ancestor becomes `'[Circular]'`, and anything
 * else (booleans, null, undefined, functions) is kept.
 */
function walk(value: unknown, f: (s: string) => string, seen: Set<object> = new Set()): unknown {
  if (typeof value === 'string') return f(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Math.abs(value) < MIN_PII_INTEGER) return value;
    const s = String(value);
    const out = f(s);
    return out === s ? value : out;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') {
    const converted: unknown = json.call(value);
    if (converted !== value) return walk(converted, f, seen);
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, f, seen));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) out[k] = walk((value as Record<string, unknown>)[k], f, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * Redacts `text` (awaiting asynchronous detectors). It checks `options` on every call; on a hot
 * path (every model call) make one redactor with {@link createPiiRedactor} and reuse it.
 *
 * @example
 * ```ts
 * const { text } = await redactPii('call +44 20 7946 0958', { mode: 'hash', key: secret });
 * ```
 */
export function redactPii(text: string, options: RedactOptions): Promise<PiiRedaction> {
  return createPiiRedactor(options).redact(text);
}

/**
 * {@link redactPii} for synchronous detectors (all built-ins are).
 *
 * @example
 * ```ts
 * redactPiiSync('card 4111 1111 1111 1111', { mode: 'mask', keepLast: { credit_card: 4 } }).text; // 'card ****1111'
 * ```
 */
export function redactPiiSync(text: string, options: RedactOptions): PiiRedaction {
  return createPiiRedactor(options).redactSync(text);
}

/**
 * A redacted copy of a JSON value: every string inside objects and arrays is redacted.
 *
 * @example
 * ```ts
 * await redactValue({ tool: 'send', args: { to: 'ada@example.com' } }, { mode: 'mask' });
 * // { tool: 'send', args: { to: '****' } }
 * ```
 */
export function redactValue<T>(value: T, options: RedactOptions): Promise<T> {
  return createPiiRedactor(options).redactValue(value);
}

/**
 * {@link redactValue} for synchronous detectors (all built-ins are).
 *
 * @example
 * ```ts
 * redactValueSync(['ada@example.com'], { mode: 'placeholder', vault }); // ['[EMAIL_1]']
 * ```
 */
export function redactValueSync<T>(value: T, options: RedactOptions): T {
  return createPiiRedactor(options).redactValueSync(value);
}
