import { defineConfig } from 'vitest/config';

// Only the Kafka integration tests (the `kafka` project of vitest.config.ts):
//   npx vitest run -c vitest.int.config.ts   (same as: npx vitest run --project kafka)
export default defineConfig({
  test: {
    include: ['**/*.int.test.ts'],
    exclude: ['**/node_modules/**', '**/.kafka/**'],
    globalSetup: ['./test/kafka/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
