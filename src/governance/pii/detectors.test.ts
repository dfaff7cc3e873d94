import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../errors.ts';
import { createPhoneDetector, emailDetector } from './contact.ts';
import { createEntropyDetector, shannonEntropy } from './entropy.ts';
import { creditCardDetector, ibanDetector } from './finance.ts';
import { ipDetector } from './ip.ts';
import { apiKeyDetector, isJwtHeader, jwtDetector } from './secrets.ts';
import { isPlausibleSsn, ssnDetector } from './ssn.ts';
import type { SyncPiiDetector } from './types.ts';

const values = (d: SyncPiiDetector, text: string): string[] => d.detect(text).map((m) => m.value);
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const JWT = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: '42', name: 'Ada' })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;

describe('email', () => {
  it('finds addresses in prose, JSON and code, with offsets that fit the text', () => {
    const text = 'Write to ada.lovelace+notes@example.co.uk, or {"to":"bob@mail.example.org"}; const a = "c_d@sub.example.io";';
    const ms = emailDetector.detect(text);
    expect(ms.map((m) => m.value)).toEqual(['ada.lovelace+notes@example.co.uk', 'bob@mail.example.org', 'c_d@sub.example.io']);
    for (const m of ms) expect(text.slice(m.start, m.end)).toBe(m.value);
  });
  it('ignores near-misses: no TLD, one-letter TLD, no local part, npm specs, decorators', () => {
    expect(values(emailDetector, 'user@localhost a@b.c @example.com npm i react@18.2.0 @Component.decorator x@y')).toEqual([]);
  });
  it('does not swallow the trailing dot of a sentence', () => {
    expect(values(emailDetector, 'Mail ada@example.com.')).toEqual(['ada@example.com']);
  });
});

describe('phone', () => {
  const phone = createPhoneDetector();
  it('finds international and US national formats', () => {
    const text = 'Call +1 (415) 555-2671, (415) 555-2671, 415.555.2671, +44 20 7946 0958, 0049 30 901820 or +33 1 42 68 53 00.';
    expect(values(phone, text)).toEqual(['+1 (415) 555-2671', '(415) 555-2671', '415.555.2671', '+44 20 7946 0958', '0049 30 901820', '+33 1 42 68 53 00']);
  });
  it('splits two numbers in one run', () => {
    expect(values(phone, 'lines: 415-555-2671 415-555-2672')).toEqual(['415-555-2671', '415-555-2672']);
  });
  it('ignores near-misses: short numbers, dates, SSNs, card numbers, versions, invalid area codes', () => {
    expect(values(phone, 'ext 555-1234, on 2024-01-15, ssn 536-22-1234, 4111 1111 1111 1111, v10.2.33.4, 123-456-7890')).toEqual([]);
  });
  it('uses the default country for national numbers and rejects a bad one, naming the field', () => {
    expect(values(createPhoneDetector({ defaultCountry: 'GB' }), 'ring 020 7946 0958')).toEqual(['020 7946 0958']);
    try {
      createPhoneDetector({ defaultCountry: 'usa' });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options', 'defaultCountry']);
    }
  });
});

describe('credit card', () => {
  it('finds Visa, Mastercard, Amex and Discover numbers, plain, spaced or dashed', () => {
    const text = '4111111111111111, 5555 5555 5555 4444, 3782-822463-10005, 6011-1111-1111-1117, 4222222222222, 2223003122003222';
    expect(creditCardDetector.detect(text).map((m) => m.kind)).toEqual(['visa', 'mastercard', 'amex', 'discover', 'visa', 'mastercard']);
  });
  it('ignores near-misses: wrong Luhn digit, unknown brand, too short, mixed grouping, inside longer numbers', () => {
    const text = '4111 1111 1111 1112, 1234567812345670, 411111111111, 4111 1111-1111 1111, 94111111111111111119, 4111111111111111.5';
    expect(values(creditCardDetector, text)).toEqual([]);
  });
});

describe('IBAN', () => {
  it('finds electronic and printed IBANs and trims a currency after them', () => {
    const text = 'DE89370400440532013000; GB82 WEST 1234 5698 7654 32 EUR; {"iban":"FR1420041010050500013M02606"}; NL91ABNA0417164300.';
    expect(values(ibanDetector, text)).toEqual(['DE89370400440532013000', 'GB82 WEST 1234 5698 7654 32', 'FR1420041010050500013M02606', 'NL91ABNA0417164300']);
  });
  it('ignores a bad checksum, a wrong length and an unknown country', () => {
    expect(values(ibanDetector, 'DE89370400440532013001 DE8937040044053201300 XX89370400440532013000')).toEqual([]);
  });
});

describe('SSN', () => {
  it('finds dashed, spaced and labelled bare numbers', () => {
    expect(values(ssnDetector, 'ids 536-22-1234 and 536 22 1235; SSN: 536221236')).toEqual(['536-22-1234', '536 22 1235', '536221236']);
  });
  it('excludes numbers never issued: area 000, 666, 9xx; group 00; serial 0000', () => {
    expect(values(ssnDetector, '000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000 SSN 000123456')).toEqual([]);
    expect([isPlausibleSsn('123', '45', '6789'), isPlausibleSsn('900', '45', '6789')]).toEqual([true, false]);
  });
  it('ignores unlabelled bare nine digits and mixed separators', () => {
    expect(values(ssnDetector, 'order 536221234, 536-22 1234')).toEqual([]);
  });
});

describe('IP', () => {
  it('finds IPv4 and IPv6 (compressed, loopback, mapped)', () => {
    const ms = ipDetector.detect('from 203.0.113.7, 2001:db8::1, fe80::1ff:fe23:4567:890a, ::1 and ::ffff:192.0.2.1');
    expect(ms.map((m) => [m.value, m.kind])).toEqual([
      ['203.0.113.7', 'ipv4'],
      ['2001:db8::1', 'ipv6'],
      ['fe80::1ff:fe23:4567:890a', 'ipv6'],
      ['::1', 'ipv6'],
      ['::ffff:192.0.2.1', 'ipv6'],
    ]);
  });
  it('reports a bare four-part version string as an IP (documented), but not v-prefixed ones or longer runs', () => {
    expect(values(ipDetector, 'version 1.2.3.4, v1.2.3.4, 1.2.3.4.5, 256.1.1.1, 10.0.0')).toEqual(['1.2.3.4']);
  });
  it('ignores code and clock times that look like IPv6', () => {
    expect(values(ipDetector, 'std::map<int> a::b 12:30:45 dead::beef 00:1A:2B:3C:4D:5E')).toEqual([]);
  });
});

describe('API keys', () => {
  const keys = {
    openai: 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Ab3dEf6hIj9k',
    anthropic: `sk-ant-api03-${'Ab3dEf6hIj9kLm2n'.repeat(5)}-AA`,
    aws: 'AKIAIOSFODNN7EXAMPLE',
    github: `ghp_${'aB3d'.repeat(9)}`,
    slack: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    google: `AIza${'Sy3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-A'}`,
    stripe: `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
  };
  it('finds every supported format and names the provider', () => {
    for (const [kind, key] of Object.entries(keys)) {
      const ms = apiKeyDetector.detect(`KEY=${key}\n{"k":"${key}"}`);
      expect(ms.map((m) => [m.kind, m.value]), kind).toEqual([[kind, key], [kind, key]]);
    }
    expect(apiKeyDetector.detect(`github_pat_${'A1b2C3d4E5'.repeat(8)}_xy`)[0]?.kind).toBe('github');
  });
  it('ignores prefixes with short bodies and keys glued inside longer words', () => {
    expect(values(apiKeyDetector, 'sk-abc sk-proj-short AKIA123 ghp_abc xoxb-1 AIzaShort sk_live_abc xAKIAIOSFODNN7EXAMPLE')).toEqual([]);
  });
});

describe('JWT', () => {
  it('finds a token whose header is JSON with alg', () => {
    expect(values(jwtDetector, `Authorization: Bearer ${JWT}`)).toEqual([JWT]);
  });
  it('ignores look-alikes: header without alg, not JSON, two parts', () => {
    const noAlg = `${b64({ typ: 'JWT' })}.${b64({ sub: 1 })}.abcdefghijkl`;
    const notJson = `eyJub3QganNvbg.${b64({ sub: 1 })}.abcdefghijkl`;
    expect(values(jwtDetector, `${noAlg} ${notJson} ${JWT.split('.').slice(0, 2).join('.')}`)).toEqual([]);
    expect(isJwtHeader(b64({ alg: 'none' }))).toBe(true);
  });
});

describe('high entropy', () => {
  const entropy = createEntropyDetector();
  it('flags random-looking tokens', () => {
    expect(values(entropy, 'session=Zq8xN2vL0pR7sT4wY1bK6mC3 ok')).toEqual(['Zq8xN2vL0pR7sT4wY1bK6mC3']);
  });
  it('does not flag long words, identifiers, UUIDs or hex digests', () => {
    const text = 'internationalization antidisestablishmentarianism get_user_profile_by_identifier getUserProfileById2024 123e4567-e89b-12d3-a456-426614174000 da39a3ee5e6b4b0d3255bfef95601890afd80709';
    expect(values(entropy, text)).toEqual([]);
  });
  it('is configurable: UUIDs on request, extra ignore patterns, and bad options name the field', () => {
    const uuid = '123e4567-e89b-12d3-a456-426614174000';
    expect(values(createEntropyDetector({ ignoreUuids: false, threshold: 3 }), uuid)).toEqual([uuid]);
    expect(values(createEntropyDetector({ ignore: [/^Zq8/] }), 'Zq8xN2vL0pR7sT4wY1bK6mC3')).toEqual([]);
    try {
      createEntropyDetector({ minLength: 2 });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options', 'minLength']);
    }
  });
  it('computes Shannon entropy in bits per character', () => {
    expect([shannonEntropy(''), shannonEntropy('aaaa'), shannonEntropy('abcd')]).toEqual([0, 0, 2]);
  });
});
