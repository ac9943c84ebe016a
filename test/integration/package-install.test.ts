/**
 * Weir as a user installs it: the package is built (JavaScript, declarations, assets), packed,
 * and installed from the tarball into an empty folder outside the repository; there `npx weir
 * --help` runs, a gateway starts from the installed package, a plain .mjs file imports
 * `weir/client` and `weir/events` and gets its event ACKed, and a TypeScript file using them is
 * type-checked against the package's declarations. No TypeScript loader is involved.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, inject, test } from "vitest";
import { freePort } from "../../src/stack/index.js";
import { waitFor } from "./support.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "weir-install-"));
let gateway: ChildProcess | undefined;
afterAll(() => {
  gateway?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const npm = (args: string[], cwd: string) =>
  run("npm", args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: "false" } });

test("packed, installed into an empty folder: the CLI runs, a gateway starts, weir/client works from .mjs and type-checks from .ts", async () => {
  await run(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/build-package.ts")], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  await npm(["pack", join(root, "dist/pkg"), "--pack-destination", dir, "--silent"], root);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "weir-user", version: "1.0.0", type: "module", private: true }));
  // The native librdkafka client is optional: installed without it, as where it cannot build.
  await npm(["install", `./${tarball}`, "typescript@6.0.3", "@types/node@20.19.43", "--omit=optional", "--no-audit", "--no-fund"], dir);

  const help = await run(join(dir, "node_modules/.bin/weir"), ["--help"], { cwd: dir });
  expect(help.stdout).toContain("weir — edge-to-cloud streaming gateway");

  const port = await freePort();
  gateway = spawn(join(dir, "node_modules/.bin/weir"), ["gateway"], {
    cwd: dir,
    stdio: "ignore",
    env: {
      ...process.env,
      WEIR_KAFKA_BROKERS: inject("kafkaBrokers"),
      WEIR_REDIS_URL: inject("redisUrl"),
      WEIR_KAFKA_CLIENT: "kafkajs",
      WEIR_PORT: String(port),
      WEIR_METRICS_PORT: "0",
      WEIR_INGEST_PROCESSES: "1",
      WEIR_PROCESSOR_IN_GATEWAY: "false",
      WEIR_API_KEYS: "user:user-key",
      WEIR_LOG_LEVEL: "warn",
    },
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true, "the installed gateway to be ready", 120_000);

  const client = (ext: string, typed: boolean) => `import { WeirClient, envelopeOf${typed ? ", type ConnectionStateChange" : ""} } from "weir/client";
import { HttpAccessLogSchema } from "weir/events";
${typed ? "const states: ConnectionStateChange[] = [];" : "const states = [];"}
const client = await WeirClient.open({ urls: ["ws://127.0.0.1:${port}/v1/ingest"], tenant: "user", apiKey: "user-key", onStateChange: (s) => states.push(s) });
const result = await client.publish(envelopeOf(HttpAccessLogSchema, { host: "web-1", method: "GET", path: "/${ext}", status: 503 }));
${typed ? '// @ts-expect-error: a status is a number, and the declarations say so\nenvelopeOf(HttpAccessLogSchema, { status: "503" });\nconst code: number = result.code;' : "const code = result.code;"}
console.log(JSON.stringify({ code, connected: states.some((s) => s.state === "connected") }));
await client.close();
`;
  writeFileSync(join(dir, "client.mjs"), client("mjs", false));
  const out = await run(process.execPath, ["client.mjs"], { cwd: dir });
  expect(JSON.parse(out.stdout)).toEqual({ code: 1, connected: true }); // 1: ACK

  writeFileSync(join(dir, "client.ts"), client("ts", true));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2023", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"] },
      files: ["client.ts"],
    }),
  );
  await expect(run(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: dir })).resolves.toBeDefined();
  // The check can fail: a wrong type is an error.
  writeFileSync(join(dir, "client.ts"), `${client("ts", true)}\nconst wrong: string = 42;\n`);
  const failed = await run(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: dir }).then(
    () => "",
    (err: { stdout?: string }) => err.stdout ?? "",
  );
  expect(failed).toContain("TS2322");
}, 600_000);
