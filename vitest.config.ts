import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{ledger,projections,gateway,consumers,docs}/**/*.spec.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Suites that need a server print their own SKIPPED banner; keep the summary readable.
    reporters: ['default'],
  },
});
