import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites start real brokers, gateways and child processes; two cores, so two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
})
