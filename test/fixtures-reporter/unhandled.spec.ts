// Fixture (see vitest.config.ts here): a passing test that leaves an unhandled rejection behind.
import { it } from 'vitest';

it('passes but leaves an unhandled rejection', async () => {
  void Promise.reject(new Error('unhandled on purpose'));
  await new Promise((resolve) => setImmediate(resolve));
});
