// Fixture (see vitest.config.ts here): a clean file, run alone to check a green closing line.
import { expect, it } from 'vitest';

it('passes', () => {
  expect(1).toBe(1);
});

it.fails('is expected to fail', () => {
  expect(1).toBe(2);
});
