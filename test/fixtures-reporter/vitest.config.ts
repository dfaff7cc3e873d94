// A tiny project for test/summary-reporter.test.ts: run alone (its own root and include), never by the
// repo's config (which includes only *.test.ts). Its files fail on purpose: a failing beforeAll, a failing
// afterAll, a module that throws while collecting, a failing test, an unhandled rejection, an it.fails.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // its cache beside the repo's, not a node_modules/ in here
  cacheDir: fileURLToPath(new URL('../../node_modules/.vite/fixtures-reporter', import.meta.url)),
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['*.spec.ts'],
    reporters: [fileURLToPath(new URL('../support/summary-reporter.ts', import.meta.url))],
    fileParallelism: false,
    pool: 'threads',
  },
});
