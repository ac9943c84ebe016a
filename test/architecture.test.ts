/**
 * The layout's rules, checked on the source text (docs/decisions/0014-one-house.md):
 * - `src/` is the library: it imports nothing from `gateway/` (the server), `workers/` (thread
 *   entries) or `load/` (benchmarks and load scripts);
 * - no import cycles anywhere in the shipped code (type-only imports count too: a cycle of types
 *   is still two modules that cannot be understood apart);
 * - one definition of the protocol version and of each Kafka topic name.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const SHIPPED = ["src", "gateway", "workers"];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (name === "gen" || name === "node_modules") continue;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Relative module specifiers a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) specs.push(m[1]!);
  return specs;
}

/** The repo path a relative specifier of `from` points at (.js written for .ts resolved). */
function target(from: string, spec: string): string {
  const abs = resolve(ROOT, dirname(from), spec);
  for (const candidate of [abs, abs.replace(/\.js$/, ".ts"), abs.replace(/\.mjs$/, ".mts")]) {
    try {
      if (statSync(candidate).isFile()) return relative(ROOT, candidate);
    } catch {
      // not this one
    }
  }
  return relative(ROOT, abs);
}

const files = [...SHIPPED, "load"].flatMap(sourceFiles);
const graph = new Map(files.map((f) => [f, importsOf(f).map((s) => target(f, s))]));

describe("the layout", () => {
  it("src/ imports nothing from gateway/, workers/ or load/", () => {
    const offending = [...graph].flatMap(([file, deps]) =>
      file.startsWith("src/") ? deps.filter((d) => /^(gateway|workers|load)\//.test(d)).map((d) => `${file} → ${d}`) : [],
    );
    expect(offending).toEqual([]);
  });

  it("has no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "visiting");
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        if (state.get(dep) === "visiting") cycles.push([...stack.slice(stack.indexOf(dep)), dep].join(" → "));
        else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it("resolves every relative import to a file", () => {
    const missing = [...graph].flatMap(([file, deps]) =>
      deps.filter((d) => !graph.has(d) && !/\.(json|html|css)$/.test(d) && !sourceExists(d)).map((d) => `${file} → ${d}`),
    );
    expect(missing).toEqual([]);
  });
});

function sourceExists(path: string): boolean {
  try {
    return statSync(join(ROOT, path)).isFile();
  } catch {
    return false;
  }
}

describe("one definition", () => {
  const shipped = SHIPPED.flatMap(sourceFiles).map((f) => ({ file: f, text: readFileSync(join(ROOT, f), "utf8") }));
  const definedIn = (pattern: RegExp) => shipped.filter((f) => pattern.test(f.text)).map((f) => f.file);

  it("of the protocol version", () => {
    expect(definedIn(/PROTOCOL_VERSION\s*=/)).toEqual(["src/protocol/version.ts"]);
    expect(definedIn(/protocolVersion:\s*\d/)).toEqual([]);
  });

  it.each([
    ["results", /["'`]weir\.results\./],
    ["alerts", /["'`]weir\.alerts["'`.]/],
    ["dead letter", /["'`]weir\.dead-letter["'`]/],
    ["changelog", /\.changelog[`"']/],
  ])("of the %s topic name", (_what, pattern) => {
    expect(definedIn(pattern)).toEqual(["src/kafka-contract.ts"]);
  });
});

describe("settings", () => {
  it("are read from the environment only in the settings module (src/config*)", () => {
    // Passing the environment on to a child (`...process.env`, `env: process.env`) is not a read;
    // naming a variable is. PATH handed to a sandboxed child is the one exception.
    const reads = SHIPPED.flatMap(sourceFiles)
      .filter((f) => !/^src\/config(\/|\.ts$)/.test(f))
      .flatMap((file) =>
        readFileSync(join(ROOT, file), "utf8")
          .split("\n")
          .filter((line) => /process\.env(\.[A-Za-z_]+|\[)/.test(line) && !/process\.env\.PATH\b/.test(line))
          .map((line) => `${file}: ${line.trim()}`),
      );
    expect(reads).toEqual([]);
  });
});
