/**
 * The client's published shape: `weir/client` resolves per runtime (Node: the `ws` WebSocket and
 * the file outbox; Deno: its own WebSocket and the file outbox; browsers: the bundle with the
 * IndexedDB outbox), and the browser bundle builds with no Node builtin in it.
 */
import { existsSync, readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { bundleModule } from "../../src/build/bundle.js";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, unknown>; scripts: Record<string, string> };

test("every runtime condition of weir/client points at its entry", () => {
  const client = pkg.exports["./client"] as Record<string, unknown>;
  expect(Object.keys(client)).toEqual(["types", "browser", "deno", "default"]);
  expect(client.deno).toBe("./src/client/deno.ts");
  expect(client.default).toBe("./src/client/index.ts");
  expect(client.browser).toEqual({ types: "./src/client/browser.ts", default: "./dist/weir-client.js" });
  for (const path of ["./src/client/deno.ts", "./src/client/index.ts", "./src/client/browser.ts"]) expect(existsSync(path), path).toBe(true);
  expect(pkg.scripts["build:client"]).toContain("src/client/browser.ts dist/weir-client.js");
  expect(pkg.scripts.prepack).toBe("npm run build:client");
});

test("the browser bundle builds without Node builtins and exports the client API", async () => {
  const code = await bundleModule("src/client/browser.ts", { platform: "browser", onWarning: (w) => expect.fail(w) });
  expect(code).not.toMatch(/from\s*["']node:/);
  const exported = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(code)?.[1] ?? "";
  for (const name of ["WeirClient", "subscribe", "envelopeOf", "IndexedDbOutbox", "MemoryOutbox", "EventRefusedError", "ResultCode"])
    expect(exported).toContain(name);
  expect(exported).not.toContain("FileOutbox");
});

test("the Deno entry bundles with node: builtins left to Deno and no `ws` package", async () => {
  const code = await bundleModule("src/client/deno.ts", { platform: "deno" });
  expect(code).toContain("FileOutbox");
  expect(code).not.toContain("WS_NO_BUFFER_UTIL");
});
