import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["services/*/test/**/*.unit.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["services/*/test/**/*.int.test.ts"],
          globalSetup: ["services/chat/test/support/global-redis.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
