import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../errors.ts';
import { createPiiRedactor, redactPii, redactPiiSync, redactValue, redactValueSync } from './redact.ts';
import type { PiiDetector } from './types.ts';
import { PiiVault } from './vault.ts';

const KEY = 'a-test-key-of-32-bytes-0123456789';
const TEXT = 'Mail ada@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE.';

describe('redactPii', () => {
  it('masks every match with a fixed mask, keeping the last digits of cards on request', () => {
    const r = redactPiiSync(TEXT, { mode: 'mask', keepLast: { credit_card: 4 } });
    expect(r.text).toBe('Mail ****, card ****1111, key ****.');
    expect(r.matches.map((m) => m.type)).toEqual(['email', 'credit_card', 'api_key']);
    expect(redactPiiSync('ada@example.com', { mode: 'mask', mask: '[redacted]' }).text).toBe('[redacted]');
  });
  it('never keeps more than a third of a value visible', () => {
    expect(redactPiiSync('SSN 536-22-1234', { mode: 'mask', keepLast: { ssn: 8 } }).text).toBe('SSN ****234');
  });
  it('hashes with HMAC-SHA-256: typed, truncated, equal values give equal tokens, another key another token', () => {
    const a = redactPiiSync('ada@example.com and ada@example.com', { mode: 'hash', key: KEY }).text;
    expect(a).toMatch(/^<EMAIL:[0-9a-f]{12}> and <EMAIL:[0-9a-f]{12}>$/);
    const [first, second] = a.split(' and ');
    expect(first).toBe(second);
    expect(redactPiiSync('ada@example.com', { mode: 'hash', key: `${KEY}x` }).text).not.toBe(first);
    expect(redactPiiSync('ada@example.com', { mode: 'hash', key: Buffer.from(KEY), length: 20 }).text).toMatch(/^<EMAIL:[0-9a-f]{20}>$/);
  });
  it('replaces by typed placeholders that only the run vault restores', () => {
    const vault = new PiiVault();
    const r = redactPiiSync(`${TEXT} Again ada@example.com, and bob@example.org.`, { mode: 'placeholder', vault });
    expect(r.text).toBe('Mail [EMAIL_1], card [CREDIT_CARD_1], key [API_KEY_1]. Again [EMAIL_1], and [EMAIL_2].');
    expect(vault.restore('Reply to [EMAIL_2] about [CREDIT_CARD_1]; [EMAIL_9] [x]')).toBe('Reply to bob@example.org about 4111 1111 1111 1111; [EMAIL_9] [x]');
    expect(new PiiVault().restore(r.text)).toBe(r.text);
    expect(vault.lookup('[API_KEY_1]')).toBe('AKIAIOSFODNN7EXAMPLE');
  });
  it('switches vaults per run without re-checking options, keeping the detectors', () => {
    const first = new PiiVault();
    const redactor = createPiiRedactor({ mode: 'placeholder', vault: first, types: ['email'] });
    const second = new PiiVault();
    const r = redactor.withVault(second).redactSync('bob@example.org 203.0.113.7');
    expect(r.text).toBe('[EMAIL_1] 203.0.113.7');
    expect([first.size, second.size]).toEqual([0, 1]);
    expect(createPiiRedactor({ mode: 'mask' }).withVault(second).redactSync('ada@example.com').text).toBe('[EMAIL_2]');
    expect(() => redactor.withVault({} as PiiVault)).toThrow(/PiiVault/);
  });
  it('replaces one finding the caller found, as redacting its text would', () => {
    const text = 'card 4111 1111 1111 1111';
    const keep = createPiiRedactor({ mode: 'mask', keepLast: { credit_card: 4 } });
    const [m] = keep.scanner.scanSync(text);
    expect(keep.replace(m!)).toBe('****1111');
    expect(`card ${keep.replace(m!)}`).toBe(keep.redactSync(text).text);
    const hash = createPiiRedactor({ mode: 'hash', key: 'sixteen bytes or more' });
    expect(hash.replace(m!)).toBe(hash.redactSync(m!.value).text);
  });

  it('awaits asynchronous detectors', async () => {
    const ner: PiiDetector = { type: 'person', detect: async (t) => (t.includes('Ada') ? [{ type: 'person', start: t.indexOf('Ada'), end: t.indexOf('Ada') + 3, value: 'Ada' }] : []) };
    expect((await redactPii('Hi Ada', { mode: 'mask', detectors: [ner] })).text).toBe('Hi ****');
  });
  it('rejects bad options naming the field', () => {
    for (const [opts, path] of [
      [{ mode: 'hash', key: 'short' }, ['options', 'key']],
      [{ mode: 'hash', key: KEY, length: 4 }, ['options', 'length']],
      [{ mode: 'placeholder' }, ['options', 'vault']],
      [{ mode: 'mask', keepLast: { credit_card: 20 } }, ['options', 'keepLast', 'credit_card']],
      [{ mode: 'erase' }, ['options', 'mode']],
      [{ mode: 'mask', types: [3] }, ['options', 'types', 0]],
    ] as const) {
      try {
        createPiiRedactor(opts as never);
        expect.unreachable();
      } catch (e) {
        expect(isValidationError(e) && e.issues[0]?.path, JSON.stringify(opts)).toEqual(path);
      }
    }
  });
});

describe('redactValue', () => {
  const record = {
    tool: 'send_email',
    args: { to: ['ada@example.com', 'bob@example.org'], body: 'card 4111 1111 1111 1111', retries: 3, phone: 4155552671, ok: true, none: null },
    at: new Date(0),
  };
  it('redacts every string (and PII-looking integers) inside objects and arrays, leaving the rest and the input alone', () => {
    const before = structuredClone(record);
    const out = redactValueSync(record, { mode: 'mask' });
    expect(out).toEqual({
      tool: 'send_email',
      args: { to: ['****', '****'], body: 'card ****', retries: 3, phone: '****', ok: true, none: null },
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(record).toEqual(before);
  });
  it('gives the same result asynchronously, and the same placeholders as text redaction in one vault', async () => {
    const vault = new PiiVault();
    const out = await redactValue(record, { mode: 'placeholder', vault });
    expect(out.args.to).toEqual(['[EMAIL_1]', '[EMAIL_2]']);
    expect(redactPiiSync('cc ada@example.com', { mode: 'placeholder', vault }).text).toBe('cc [EMAIL_1]');
    expect(vault.restore(JSON.stringify(out))).toContain('"to":["ada@example.com","bob@example.org"]');
  });
  it('uses toJSON (errors, dates) and marks cycles instead of looping', () => {
    const a: Record<string, unknown> = { mail: 'ada@example.com' };
    a.self = a;
    expect(redactValueSync(a, { mode: 'mask' })).toEqual({ mail: '****', self: '[Circular]' });
    const err = { toJSON: () => ({ message: 'failed for ada@example.com' }) };
    expect(redactValueSync(err, { mode: 'mask' })).toEqual({ message: 'failed for ****' });
  });
});

describe('PiiVault', () => {
  it('never serializes or prints its contents, and forgets on clear', () => {
    const vault = new PiiVault();
    redactPiiSync('ada@example.com', { mode: 'placeholder', vault });
    expect(JSON.stringify({ vault })).toBe('{"vault":{"piiVault":{"size":1}}}');
    expect(inspect(vault)).toBe('PiiVault { size: 1 }');
    vault.clear();
    expect([vault.size, vault.restore('[EMAIL_1]')]).toEqual([0, '[EMAIL_1]']);
  });
});

describe('redaction properties', () => {
  const pieces = [
    'ada@example.com', '+44 20 7946 0958', '4111 1111 1111 1111', 'DE89 3704 0044 0532 0130 00', '536-22-1234', '203.0.113.7', '2001:db8::1',
    'AKIAIOSFODNN7EXAMPLE', 'Zq8xN2vL0pR7sT4wY1bK6mC3', 'hello', ' ', ', ', '\n', '{"a":"', '"}', 'x', '12', '-', '.', ':',
  ];
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((xs) => xs.join(''));

  it('placeholder redaction is undone exactly by the vault', () => {
    fc.assert(
      fc.property(text, (t) => {
        const vault = new PiiVault();
        expect(vault.restore(redactPiiSync(t, { mode: 'placeholder', vault }).text)).toBe(t);
      }),
      { seed: 13, numRuns: 300 },
    );
  });
  it('no matched value survives either irreversible mode, and matches come in text order without overlapping', () => {
    fc.assert(
      fc.property(text, fc.constantFrom('mask', 'hash'), (t, mode) => {
        const r = redactPiiSync(t, mode === 'mask' ? { mode } : { mode, key: KEY });
        let end = 0;
        for (const m of r.matches) {
          expect(m.start).toBeGreaterThanOrEqual(end);
          expect(t.slice(m.start, m.end)).toBe(m.value);
          end = m.end;
          // A value that occurs once in the input is gone from the output (a second occurrence
          // glued into a longer token, e.g. `…0130 00hello`, is deliberately not a match).
          if (t.indexOf(m.value) === t.lastIndexOf(m.value)) expect(r.text.includes(m.value)).toBe(false);
        }
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});
