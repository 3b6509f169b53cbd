import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["services/*/test/**/*.unit.test.ts", "loadtest/test/**/*.unit.test.ts", "loadtest/k6/test/**/*.unit.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["services/*/test/**/*.int.test.ts", "loadtest/test/**/*.int.test.ts"],
          globalSetup: ["services/chat/test/support/global-redis.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        // The browser client's logic (rune classes in *.svelte.ts, i18n). Its environment (Node
        // with the few browser globals those modules touch) has Vite transform them as client code,
        // so the Svelte plugin compiles runes for the browser and "svelte" resolves to its client
        // build: $state is the real, reactive one.
        plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
        resolve: { conditions: ["browser"] },
        test: {
          name: "web",
          include: ["web/test/**/*.unit.test.ts"],
          environment: "./web/test/environment.ts",
        },
      },
      {
        // The process cluster (redis-server, nodes, nginx) under faults: crashes, drains, Redis
        // outages. One file at a time: each starts a whole cluster.
        test: {
          name: "cluster",
          include: ["infra/cluster/test/**/*.fault.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // Real Chromium against real nodes (each file starts its own redis-server, two nodes and
        // a browser): one file at a time, so two clusters never compete for the two cores.
        test: {
          name: "browser",
          include: ["web/test/**/*.browser.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
