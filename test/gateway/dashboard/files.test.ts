/**
 * The dashboard's files as the gateway serves them: the page and stylesheet as they are, app.js as
 * one browser module bundled in memory with its protobuf-es codec (no build step), with no Node
 * builtin and nothing left to import.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { dashboardFiles, dashboardScript } from "../../../gateway/dashboard/files.js";

test("the page, its stylesheet and its bundled script are served, and nothing else", async () => {
  const files = await dashboardFiles();
  expect([...files.keys()].sort()).toEqual(["/dashboard", "/dashboard/", "/dashboard/app.js", "/dashboard/index.html", "/dashboard/style.css"]);
  expect(files.get("/dashboard")).toBe(files.get("/dashboard/index.html"));
  expect(files.get("/dashboard/")).toBe(files.get("/dashboard/index.html"));
  expect(files.get("/dashboard/index.html")!.type).toBe("text/html; charset=utf-8");
  expect(files.get("/dashboard/style.css")!.body.toString()).toBe(readFileSync("gateway/dashboard/style.css", "utf8"));
  expect(files.get("/dashboard/app.js")!.type).toBe("text/javascript; charset=utf-8");
  // The page loads the one module the gateway serves.
  expect(files.get("/dashboard/index.html")!.body.toString()).toContain('<script type="module" src="/dashboard/app.js"></script>');
});

test("app.js is bundled once per process with protobuf-es and the generated schemas, without Node builtins", async () => {
  const first = dashboardScript();
  expect(dashboardScript()).toBe(first); // cached: the gateway builds it once
  const code = (await first).toString();
  // Self-contained: every import was bundled, none is left for the browser to fetch.
  expect(code).not.toMatch(/^\s*import\s|\bimport\s*\(|\brequire\s*\(/m);
  expect(code).not.toMatch(/["']node:/);
  expect(code).toContain("var file_weir_v1_protocol ="); // the generated schemas travel with the page
  expect(code).toContain("function fromBinary(");
  expect(code).toContain("function encodeSubscribe(");
  expect(code).toContain("openStream(");
});
