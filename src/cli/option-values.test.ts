import { describe, expect, it } from 'vitest';
import { perWindow, trustProxy } from './option-values.ts';

describe('option values', () => {
  it('--rate-limit and --failed-auth-limit: <max> per minute or <max>/<window>', () => {
    expect(perWindow('1200')).toEqual({ max: 1200, windowMs: 60_000 });
    expect(perWindow('100/1m')).toEqual({ max: 100, windowMs: 60_000 });
    expect(perWindow('5/30s')).toEqual({ max: 5, windowMs: 30_000 });
    expect(perWindow('5000/1h')).toEqual({ max: 5000, windowMs: 3_600_000 });
    for (const bad of ['', '0', '-1', '10/0s', '10/', '10/5', '10/5d', 'ten', '1.5/1m']) expect(() => perWindow(bad), bad).toThrow(/<max>/);
  });

  it('--trust-proxy: true, hops, or addresses and ranges', () => {
    expect(trustProxy('true')).toBe(true);
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('10.0.0.0/8, 127.0.0.1,::1,loopback')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'loopback']);
    for (const bad of ['0', '', ',', 'proxy.example.com', '10.0.0.0/8;rm']) expect(() => trustProxy(bad), bad).toThrow(/hops/);
  });
});
