import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "node/**/*.test.ts", "gateway/**/*.test.ts", "lib/**/*.test.ts", "scripts/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: contract suites each start an in-process chain; more forks only thrash.
    pool: "forks",
    maxWorkers: 2,
  },
});
