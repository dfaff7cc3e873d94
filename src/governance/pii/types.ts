/**
 * The shapes every PII and secret detector shares: a match (`PiiMatch`) and a detector
 * (`PiiDetector`). Detectors are plain objects, so a user can add one of their own, including an
 * asynchronous one that calls an NER model service.
 *
 * @example
 * ```ts
 * const employeeIds: PiiDetector = {
 *   type: 'employee_id',
 *   detect: (text) => [...text.matchAll(/\bEMP-\d{6}\b/g)].map((m) => ({
 *     type: 'employee_id', start: m.index, end: m.index + m[0].length, value: m[0],
 *   })),
 * };
 * ```
 * @module
 */

/**
 * Names of the built-in detector types. Custom detectors may use any other name
 * (lower case letters, digits and `_`).
 *
 * @example
 * ```ts
 * const structured: readonly PiiType[] = ['email', 'phone', 'credit_card'];
 * ```
 */
export type PiiType =
  | 'email'
  | 'phone'
  | 'credit_card'
  | 'iban'
  | 'ssn'
  | 'ip'
  | 'api_key'
  | 'jwt'
  | 'high_entropy';

/**
 * Every built-in type, in the order the default detectors run.
 *
 * @example
 * ```ts
 * PII_TYPES.includes('iban'); // true
 * ```
 */
export const PII_TYPES: readonly PiiType[] = Object.freeze([
  'email',
  'phone',
  'credit_card',
  'iban',
  'ssn',
  'ip',
  'api_key',
  'jwt',
  'high_entropy',
] as const);

/**
 * One finding: `text.slice(start, end) === value`.
 *
 * @example
 * ```ts
 * const m: PiiMatch = { type: 'email', start: 8, end: 25, value: 'ada@example.com' };
 * ```
 */
export interface PiiMatch {
  /** The detector type, e.g. `email` or `api_key`. */
  readonly type: string;
  /** Offset of the first UTF-16 code unit of the match. */
  readonly start: number;
  /** Offset one past the last code unit of the match. */
  readonly end: number;
  /** The matched text. */
  readonly value: string;
  /** Confidence in [0, 1] where the detector has one (NER services, entropy). */
  readonly score?: number;
  /** A finer kind where the detector knows one, e.g. `openai` for an `api_key`, `ipv6` for an `ip`. */
  readonly kind?: string;
}

/**
 * A detector: finds every match of one type in a text. It may answer synchronously (all
 * built-ins do) or with a promise (an NER model service); `scanPiiSync` accepts only the former.
 * When matches of different detectors overlap, the one with the higher `priority` wins, then the
 * longer one (built-ins: JWTs 85, API keys 80, structured types 50, IPs 45, phones 40, entropy 10; default 50).
 *
 * @example
 * ```ts
 * const ner: PiiDetector = {
 *   type: 'person',
 *   detect: async (text) => (await nerService.find(text)).map((e) => ({ type: 'person', ...e })),
 * };
 * await scanPii('Ada Lovelace wrote it', { detectors: [...defaultPiiDetectors(), ner] });
 * ```
 */
export interface PiiDetector {
  readonly type: string;
  /** Overlap precedence; higher wins. Default 50. */
  readonly priority?: number;
  detect(text: string): readonly PiiMatch[] | Promise<readonly PiiMatch[]>;
}

/**
 * A detector that always answers synchronously, as every built-in does; what `scanPiiSync`
 * can run without a `PII_DETECTOR_ASYNC` error.
 *
 * @example
 * ```ts
 * const n = emailDetector.detect('ada@example.com').length; // no await needed
 * ```
 */
export interface SyncPiiDetector extends PiiDetector {
  detect(text: string): readonly PiiMatch[];
}
