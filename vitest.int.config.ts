import { defineConfig } from 'vitest/config';

/**
 * The Kafka integration tests (*.int.test.ts) against a real broker, whose global setup finds or
 * starts it (KAFKA_BROKERS, a Docker engine via testcontainers, or scripts/kafka-local.sh), and the
 * PostgreSQL store tests against a real server (LLMO_PG_URL, testcontainers, or scripts/pg-local.sh).
 * Also the `kafka` project of vitest.config.ts. Alone: npx vitest run -c vitest.int.config.ts
 */
export const kafkaTests = {
  include: ['**/*.int.test.ts'],
  exclude: ['**/node_modules/**', '**/.kafka/**', '**/.pg/**'],
  globalSetup: ['./test/kafka/global-setup.ts', './test/stores/global-setup.ts'],
  fileParallelism: false,
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({ test: kafkaTests });
