import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{ledger,projections,gateway,consumers,docs}/**/*.spec.ts'],
    pool: 'forks',
    // Vitest's default is one worker per core minus one: a single file at a time on these 2-core machines.
    // Most of the long suites wait on RabbitMQ, child processes or fsync, not on the CPU, so three files at a
    // time take the suite from about 6 min to about 4 min here (measured: 376 s → 247 s, 510/510 both).
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Suites that need a server print their own SKIPPED banner; keep the summary readable.
    reporters: ['default'],
  },
});
