import { describe, expect, it } from 'vitest';
import { isOrchestratorError, isValidationError } from '../../errors.ts';
import { emailDetector } from './contact.ts';
import { createPiiScanner, defaultPiiDetectors, resolveOverlaps, scanPii, scanPiiSync } from './scan.ts';
import type { PiiDetector, PiiMatch } from './types.ts';

const at = (text: string, value: string, type: string): PiiMatch => ({ type, start: text.indexOf(value), end: text.indexOf(value) + value.length, value });

describe('scanPii', () => {
  it('runs every built-in detector and returns matches in text order', () => {
    const text = 'key AKIAIOSFODNN7EXAMPLE, mail ada@example.com, host 203.0.113.7, card 4111 1111 1111 1111';
    expect(scanPiiSync(text).map((m) => m.type)).toEqual(['api_key', 'email', 'ip', 'credit_card']);
  });
  it('lets a secret win over the generic entropy match covering it', () => {
    const key = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Ab3dEf6hIj9k';
    expect(scanPiiSync(`OPENAI_API_KEY=${key}`).map((m) => [m.type, m.value])).toEqual([['api_key', key]]);
  });
  it('keeps the longer match of equal priority (an IBAN over a card-like run inside it)', () => {
    const text = 'iban DE89 3704 0044 0532 0130 00';
    const fakeCard: PiiDetector = { type: 'credit_card', detect: (t) => [at(t, '3704 0044 0532 0130', 'credit_card')] };
    const ms = scanPiiSync(text, { detectors: [...defaultPiiDetectors(), fakeCard] });
    expect(ms.map((m) => m.type)).toEqual(['iban']);
  });
  it('filters by type', () => {
    expect(scanPiiSync('ada@example.com 203.0.113.7', { types: ['ip'] }).map((m) => m.type)).toEqual(['ip']);
  });
  it('awaits asynchronous detectors (an NER service) alongside the built-ins', async () => {
    const ner: PiiDetector = { type: 'person', detect: async (t) => [at(t, 'Ada Lovelace', 'person')] };
    const ms = await scanPii('Ada Lovelace <ada@example.com>', { detectors: [ner, emailDetector] });
    expect(ms.map((m) => [m.type, m.value])).toEqual([['person', 'Ada Lovelace'], ['email', 'ada@example.com']]);
  });
  it('refuses an asynchronous detector in scanSync with PII_DETECTOR_ASYNC', () => {
    const ner: PiiDetector = { type: 'person', detect: async () => [] };
    try {
      createPiiScanner({ detectors: [ner] }).scanSync('x');
      expect.unreachable();
    } catch (e) {
      expect(isOrchestratorError(e) && e.code).toBe('PII_DETECTOR_ASYNC');
    }
  });
  it('rejects a detector match that does not fit the text, naming the detector', () => {
    const liar: PiiDetector = { type: 'liar', detect: () => [{ type: 'liar', start: 0, end: 3, value: 'xyz' }] };
    try {
      scanPiiSync('abc', { detectors: [liar] });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && [e.code, e.issues[0]?.path]).toEqual(['PII_MATCH_INVALID', ['detectors', 'liar', 0]]);
    }
  });
  it('rejects bad options naming the field', () => {
    for (const [opts, path] of [
      [{ types: ['Email'] }, ['options', 'types', 0]],
      [{ detectors: [{ type: 'x' }] }, ['options', 'detectors', 0]],
      [{ detector: [] }, ['options']],
    ] as const) {
      try {
        scanPiiSync('x', opts as never);
        expect.unreachable();
      } catch (e) {
        expect(isValidationError(e) && e.issues[0]?.path, JSON.stringify(opts)).toEqual(path);
      }
    }
  });
});

describe('resolveOverlaps', () => {
  it('prefers priority, then length, then the earlier match, and sorts by start', () => {
    const m = (type: string, start: number, end: number): PiiMatch => ({ type, start, end, value: 'x'.repeat(end - start) });
    const out = resolveOverlaps([
      { priority: 10, matches: [m('entropy', 0, 30)] },
      { priority: 80, matches: [m('key', 5, 25)] },
      { priority: 50, matches: [m('a', 40, 50), m('b', 45, 60), m('c', 70, 75)] },
      { priority: 50, matches: [m('d', 72, 77)] },
    ]);
    expect(out.map((x) => x.type)).toEqual(['key', 'b', 'c']);
  });
});
