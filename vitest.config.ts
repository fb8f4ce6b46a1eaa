import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["contracts/test/**/*.test.ts", "worker/src/**/*.test.ts", "scripts/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.ts", "web/src/**/*.test.tsx"],
    // Contract property tests run hundreds of transactions on the in-process chain; e2e tests start processes.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
