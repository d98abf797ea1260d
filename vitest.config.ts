import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "compiler/**/*.test.ts", "runtime-template/**/*.test.ts"],
    setupFiles: ["test/support/cleanup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
