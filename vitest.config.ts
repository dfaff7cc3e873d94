import { defineConfig } from 'vitest/config';

// One run, two projects: unit tests (no services) and integration tests against a real
// Kafka broker (*.int.test.ts), whose global setup finds or starts the broker
// (KAFKA_BROKERS, a Docker engine via testcontainers, or scripts/kafka-local.sh).
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
      {
        test: {
          name: 'kafka',
          include: ['**/*.int.test.ts'],
          exclude: ['**/node_modules/**', '**/.kafka/**'],
          globalSetup: ['./test/kafka/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
