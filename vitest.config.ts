import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/stack/**", "test/chaos/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/stack/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          // One real Kafka and Redis for the whole run; some files restart them, so files run one at a time.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          // `npm run chaos`: the whole chaos suite (its short form runs in the integration project).
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 1_800_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
