/**
 * Starts one real Kafka (KRaft) and Redis for the integration project, on free ports in a temp
 * dir, and hands their addresses to the tests. Tests that stop services start their own stack.
 */
import type { TestProject } from "vitest/node";
import { startTestStack, type TestStack } from "../../src/stack/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string;
    redisUrl: string;
  }
}

let stack: TestStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  stack = await startTestStack({ log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  project.provide("kafkaBrokers", stack.kafkaBrokers);
  project.provide("redisUrl", stack.redisUrl);
}

export async function teardown(): Promise<void> {
  await stack?.close();
}
