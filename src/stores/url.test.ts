import { describe, expect, it } from 'vitest';
import { redactUrl } from './url.ts';

describe('redactUrl', () => {
  it('hides the password, also one holding an unencoded @, and leaves a URL without one as it is', () => {
    expect(redactUrl('postgres://llmo:secret@db:5432/llmo')).toBe('postgres://llmo:***@db:5432/llmo');
    expect(redactUrl('postgres://llmo:p@ss@db/llmo')).toBe('postgres://llmo:***@db/llmo');
    expect(redactUrl('postgres://db/llmo?schema=x')).toBe('postgres://db/llmo?schema=x');
    expect(redactUrl('runs.db')).toBe('runs.db');
  });
});
