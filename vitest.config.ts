import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { kafkaTests } from './vitest.int.config.ts';

/**
 * `llm-orchestrator` and its subpaths resolve to the sources (the exports' `llmo-source`
 * condition), so examples and README snippets import the package by name, as users do.
 */
export const packageAliases = (() => {
  const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, string | { 'llmo-source'?: string }>;
  };
  return Object.entries(pkg.exports)
    .flatMap(([sub, target]) => (typeof target === 'object' && target['llmo-source'] !== undefined ? [[sub, target['llmo-source']] as const] : []))
    .map(([sub, source]) => ({
      find: new RegExp(`^llm-orchestrator${sub === '.' ? '' : sub.slice(1).replace(/[/]/g, '\\/')}$`),
      replacement: fileURLToPath(new URL(source, import.meta.url)),
    }));
})();

// One run, several projects: unit tests (no services), the Kafka and PostgreSQL integration tests, the SQLite
// store across processes, the server under load, and the live view in a browser.
export default defineConfig({
  resolve: { alias: packageAliases },
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'operators/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
          testTimeout: 20_000,
          // Child processes, not worker threads: better-sqlite3 12 (the last line for Node 20) can crash the whole
          // run with SIGSEGV when a worker thread that loaded it exits (its addon is unloaded before the thread's
          // last GC; WiseLibs/better-sqlite3#1476, fixed in 13, which needs Node 22). Seen 1 in 3 on Node 22.
          pool: 'forks',
        },
      },
      { extends: true, test: { name: 'kafka', ...kafkaTests, exclude: [...kafkaTests.exclude, 'test/stores/sqlite*.int.test.ts', 'test/durable/*.int.test.ts', 'test/load/*.int.test.ts', 'test/browser/**', 'test/conformance/**'] } },
      // The server under load on 127.0.0.1 (real sockets, no service): 1,000 SSE clients on one run, 200 runs/s for 60 s.
      { extends: true, test: { name: 'load', include: ['test/load/*.int.test.ts'], testTimeout: 300_000, hookTimeout: 60_000, fileParallelism: false } },
      // The live view in a real headless Chromium (Debian's package at /usr/bin/chromium, which .ci/run installs).
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.int.test.ts'], testTimeout: 90_000, hookTimeout: 60_000, fileParallelism: false } },
      // The HTTP API against its OpenAPI document under Schemathesis (PyPI, in a virtualenv scripts/schemathesis-local.sh makes).
      { extends: true, test: { name: 'conformance', include: ['test/conformance/**/*.int.test.ts'], testTimeout: 300_000, hookTimeout: 60_000 } },
      // The SQLite store across processes (real files, child processes; no service needed), and durable runs killed and recovered on it.
      { extends: true, test: { name: 'sqlite', include: ['test/stores/sqlite*.int.test.ts', 'test/durable/*.int.test.ts'], testTimeout: 180_000, hookTimeout: 60_000 } },
    ],
  },
});
