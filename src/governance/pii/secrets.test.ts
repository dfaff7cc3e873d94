import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEntropyDetector } from './entropy.ts';
import { findAll, span } from './find.ts';
import { API_KEY_FORMATS, apiKeyDetector, jwtDetector, KEY_PREFIXES } from './secrets.ts';

// The detector's pattern, scanned at every position as a plain global regex would.
const KEY = new RegExp(API_KEY_FORMATS.map(([kind, p]) => `(?<${kind}>${p})`).join('|'), 'g');
const naiveKeys = (text: string) =>
  findAll(text, KEY, (m) => {
    const around = (c: string | undefined): boolean => c !== undefined && /[\w-]/.test(c);
    if (around(text[m.index - 1]) || around(text[m.index + m[0].length])) return undefined;
    return span(m, 'api_key', Object.entries(m.groups ?? {}).find(([, v]) => v !== undefined)?.[0]);
  });

// fast-check cannot generate through lookaheads: generate from the pattern without them (a superset).
const sample = (pattern: string) => fc.stringMatching(new RegExp(`^(?:${pattern.replace(/\(\?![^)]*\)/g, '')})$`));

describe('api key prefixes', () => {
  it('every key of every format starts with one of KEY_PREFIXES', () => {
    for (const [kind, pattern] of API_KEY_FORMATS) {
      fc.assert(
        fc.property(sample(pattern), (key) => {
          expect(KEY_PREFIXES.some((p) => key.startsWith(p)), `${kind}: ${key}`).toBe(true);
        }),
        { seed: 13, numRuns: 200 },
      );
    }
  });
  it('the detector finds what a scan at every position finds', () => {
    const keys = API_KEY_FORMATS.map(([, p]) => sample(p));
    const piece = fc.oneof(fc.oneof(...keys), fc.constantFrom(' ', '-', '_', 'A', 'sk', 'x', '=', '"', 'AKIA', 'ghp_', 'xoxb-', 'ask-', 'AIza', 'k'));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (ps) => {
        const text = ps.join('');
        expect(apiKeyDetector.detect(text)).toEqual(naiveKeys(text));
      }),
      { seed: 13, numRuns: 500 },
    );
  });
});

describe('texts full of anchor characters', () => {
  it('still finds keys and JWTs (the detectors fall back to a whole-text search)', () => {
    const key = 'xoxb-1234567890-abcdefghij';
    const table = `| a | b |\n${'|---|---|\n'.repeat(60)}token ${key} AKIAIOSFODNN7EXAMPLE`;
    expect(apiKeyDetector.detect(table)).toEqual(naiveKeys(table));
    expect(apiKeyDetector.detect(table).map((m) => m.kind)).toEqual(['slack', 'aws']);
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${b64({ alg: 'HS256' })}.${b64({ sub: '1' })}.c2lnbmF0dXJl`;
    expect(jwtDetector.detect(`${'J '.repeat(100)}${jwt}`).map((m) => m.value)).toEqual([jwt]);
  });
});

describe('jwt and entropy after the prefilter', () => {
  it('finds a JWT that is not the first eyJ of the text', () => {
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${b64({ alg: 'HS256' })}.${b64({ sub: '1' })}.c2lnbmF0dXJl`;
    expect(jwtDetector.detect(`eyJ alone, then ${jwt}`).map((m) => m.value)).toEqual([jwt]);
  });
  it('counts a token with its padding against minLength', () => {
    const entropy = createEntropyDetector({ minLength: 8, threshold: 2, requireDigit: false });
    expect(entropy.detect('set API_KEY= now').map((m) => m.value)).toEqual(['API_KEY=']);
    expect(entropy.detect('set APIKEY= now')).toEqual([]);
  });
});
