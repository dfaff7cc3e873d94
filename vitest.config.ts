import { defineConfig } from 'vitest/config';
import { kafkaTests } from './vitest.int.config.ts';

// One run, two projects: unit tests (no services) and the Kafka integration tests.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'operators/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
          testTimeout: 20_000,
          pool: 'threads',
        },
      },
      { test: { name: 'kafka', ...kafkaTests } },
    ],
  },
});
