/**
 * Scanning: run detectors over a text and resolve overlapping matches into one list.
 *
 * @example
 * ```ts
 * const matches = scanPiiSync('mail ada@example.com, key sk-ant-api03-…');
 * matches.map((m) => m.type); // ['email', 'api_key']
 * ```
 * @module
 */
import * as z from 'zod';
import { OrchestratorError, ValidationError, toIssues } from '../../errors.ts';
import { createPhoneDetector, emailDetector } from './contact.ts';
import { createEntropyDetector } from './entropy.ts';
import { creditCardDetector, ibanDetector } from './finance.ts';
import { ipDetector } from './ip.ts';
import { apiKeyDetector, jwtDetector } from './secrets.ts';
import { ssnDetector } from './ssn.ts';
import { sharingTextFacts } from './runs.ts';
import type { PiiDetector, PiiMatch } from './types.ts';

/**
 * A fresh list of the built-in detectors: email, phone (US default country), credit card, IBAN,
 * SSN, IP, API key, JWT and high-entropy strings.
 *
 * @example
 * ```ts
 * const detectors = [...defaultPiiDetectors(), myNerDetector];
 * ```
 */
export function defaultPiiDetectors(): PiiDetector[] {
  return [...DEFAULT_DETECTORS];
}

// Immutable (every detector is frozen and stateless between calls), so sharing one list is safe.
const DEFAULT_DETECTORS: readonly PiiDetector[] = Object.freeze([
  emailDetector,
  createPhoneDetector(),
  creditCardDetector,
  ibanDetector,
  ssnDetector,
  ipDetector,
  apiKeyDetector,
  jwtDetector,
  createEntropyDetector(),
]);

const detectorSchema = z.custom<PiiDetector>(
  (d) => typeof d === 'object' && d !== null && typeof (d as PiiDetector).type === 'string' && typeof (d as PiiDetector).detect === 'function',
  'a detector: { type: string, detect(text) }',
);

/**
 * The zod fields of {@link ScanOptions}, shared by the redaction options.
 *
 * @example
 * ```ts
 * const mine = z.strictObject({ ...scanOptionsShape, label: z.string() });
 * ```
 */
export const scanOptionsShape = {
  /** Detectors to run (default: `defaultPiiDetectors()`). */
  detectors: z.array(detectorSchema).optional(),
  /** Keep only matches of these types (default: all). */
  types: z.array(z.string().regex(/^[a-z][a-z0-9_]*$/, 'a type name such as email or api_key')).optional(),
};
const scanOptions = z.strictObject(scanOptionsShape);

/**
 * Options of {@link scanPii}.
 *
 * @example
 * ```ts
 * const opts: ScanOptions = { types: ['email', 'phone'] };
 * ```
 */
export interface ScanOptions {
  readonly detectors?: readonly PiiDetector[];
  readonly types?: readonly string[];
}

/**
 * A scanner with its options checked once, for hot paths (policy middleware calls it per model call).
 *
 * @example
 * ```ts
 * const scanner = createPiiScanner({ types: ['email', 'api_key'] });
 * scanner.scanSync(prompt);
 * ```
 */
export interface PiiScanner {
  /** Runs every detector (awaiting asynchronous ones) and resolves overlaps. */
  scan(text: string): Promise<PiiMatch[]>;
  /** The same for synchronous detectors only; throws `PII_DETECTOR_ASYNC` if one returns a promise. */
  scanSync(text: string): PiiMatch[];
}

/**
 * Makes a {@link PiiScanner}. Throws a `ValidationError` (`OPTIONS_INVALID`) naming the bad field.
 *
 * @example
 * ```ts
 * const scanner = createPiiScanner({ detectors: [emailDetector, apiKeyDetector] });
 * ```
 */
export function createPiiScanner(options: ScanOptions = {}): PiiScanner {
  const r = scanOptions.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'PII scan options are invalid', toIssues(r.error.issues, ['options']));
  const all = r.data.detectors ?? DEFAULT_DETECTORS;
  const types = r.data.types === undefined ? undefined : new Set(r.data.types);
  const detectors = types === undefined ? all : all.filter((d) => types.has(d.type));
  const keep = (ms: readonly PiiMatch[]): readonly PiiMatch[] => (types === undefined ? ms : ms.filter((m) => types.has(m.type)));
  return Object.freeze({
    async scan(text: string): Promise<PiiMatch[]> {
      // Every detector starts synchronously here (an asynchronous one goes on after its first await).
      const pending = sharingTextFacts(text, () => detectors.map(async (d) => ({ d, ms: checked(d, text, await d.detect(text)) })));
      const found = await Promise.all(pending);
      return resolveOverlaps(found.map(({ d, ms }) => ({ priority: d.priority ?? 50, matches: keep(ms) })));
    },
    scanSync(text: string): PiiMatch[] {
      // only the detectors that found something make a group (most find nothing in most texts)
      const groups: { readonly priority: number; readonly matches: readonly PiiMatch[] }[] = [];
      sharingTextFacts(text, () => {
        for (let i = 0; i < detectors.length; i++) {
          const d = detectors[i]!;
          const ms = d.detect(text);
          if (ms instanceof Promise || !Array.isArray(ms)) {
            throw new OrchestratorError('PII_DETECTOR_ASYNC', `detector '${d.type}' answered asynchronously; use scan() or redact() instead of their Sync forms`);
          }
          if (ms.length === 0) continue;
          const kept = keep(checked(d, text, ms));
          if (kept.length > 0) groups.push({ priority: d.priority ?? 50, matches: kept });
        }
      });
      return resolveOverlaps(groups);
    },
  });
}

/** A detector's answer must describe its text: a wrong offset would redact the wrong characters. */
function checked(d: PiiDetector, text: string, ms: readonly PiiMatch[]): readonly PiiMatch[] {
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i]!;
    if (!Number.isInteger(m.start) || !Number.isInteger(m.end) || m.start < 0 || m.end > text.length || m.start >= m.end || typeof m.value !== 'string' || m.value.length !== m.end - m.start || !text.startsWith(m.value, m.start)) {
      throw new ValidationError('PII_MATCH_INVALID', `detector '${d.type}' returned a match that does not fit the text`, [
        { code: 'invalid_match', path: ['detectors', d.type, i], message: `start ${m.start}, end ${m.end} do not cover the value in a text of ${text.length} characters` },
      ]);
    }
  }
  return ms;
}

/**
 * Merges detector outputs into non-overlapping matches ordered by `start`: the higher priority
 * wins an overlap, then the longer match, then the earlier one.
 *
 * @example
 * ```ts
 * resolveOverlaps([{ priority: 80, matches: keys }, { priority: 10, matches: entropy }]);
 * ```
 */
export function resolveOverlaps(groups: readonly { readonly priority: number; readonly matches: readonly PiiMatch[] }[]): PiiMatch[] {
  const all: { p: number; m: PiiMatch }[] = [];
  for (const g of groups) for (const m of g.matches) all.push({ p: g.priority, m });
  if (all.length <= 1) return all.map((x) => x.m);
  // Usually nothing overlaps: then every match is kept, in text order.
  const byStart = all.map((x) => x.m).sort((a, b) => a.start - b.start);
  let overlap = false;
  for (let i = 1; i < byStart.length && !overlap; i++) overlap = byStart[i]!.start < byStart[i - 1]!.end;
  if (!overlap) return byStart;
  all.sort((a, b) => b.p - a.p || b.m.end - b.m.start - (a.m.end - a.m.start) || a.m.start - b.m.start);
  const kept: PiiMatch[] = [];
  for (const { m } of all) if (!kept.some((k) => m.start < k.end && k.start < m.end)) kept.push(m);
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Finds PII and secrets in `text` (all built-in detectors unless `detectors` is given), awaiting
 * asynchronous detectors.
 *
 * @example
 * ```ts
 * const ms = await scanPii('SSN 536-22-1234', { types: ['ssn'] });
 * ```
 */
export function scanPii(text: string, options: ScanOptions = {}): Promise<PiiMatch[]> {
  return createPiiScanner(options).scan(text);
}

/**
 * {@link scanPii} for synchronous detectors (all built-ins are).
 *
 * @example
 * ```ts
 * scanPiiSync('4111 1111 1111 1111')[0]?.type; // 'credit_card'
 * ```
 */
export function scanPiiSync(text: string, options: ScanOptions = {}): PiiMatch[] {
  return createPiiScanner(options).scanSync(text);
}
