/**
 * PII and secret detection with redaction: built-in detectors (email, phone, payment card, IBAN,
 * US SSN, IP, API keys, JWT, high-entropy strings), a pluggable detector interface, scanning with
 * overlap resolution, and mask / hash / placeholder redaction of texts and JSON values.
 *
 * @example
 * ```ts
 * import { createPiiRedactor, PiiVault } from 'llm-orchestrator/governance';
 * const vault = new PiiVault();
 * const redactor = createPiiRedactor({ mode: 'placeholder', vault });
 * redactor.redactSync('mail ada@example.com').text; // 'mail [EMAIL_1]'
 * ```
 * @module
 */
export type { PiiDetector, PiiMatch, PiiType, SyncPiiDetector } from './types.ts';
export { PII_TYPES } from './types.ts';
export { emailDetector, createPhoneDetector, type PhoneDetectorOptions } from './contact.ts';
export { creditCardDetector, ibanDetector } from './finance.ts';
export { ssnDetector, isPlausibleSsn } from './ssn.ts';
export { ipDetector } from './ip.ts';
export { apiKeyDetector, jwtDetector, isJwtHeader, API_KEY_FORMATS } from './secrets.ts';
export { createEntropyDetector, shannonEntropy, type EntropyDetectorOptions } from './entropy.ts';
export { createPiiScanner, defaultPiiDetectors, resolveOverlaps, scanPii, scanPiiSync, type PiiScanner, type ScanOptions } from './scan.ts';
export {
  createPiiRedactor,
  redactPii,
  redactPiiSync,
  redactValue,
  redactValueSync,
  type PiiRedaction,
  type PiiRedactor,
  type RedactOptions,
} from './redact.ts';
export { PiiVault } from './vault.ts';
