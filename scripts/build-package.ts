/**
 * Stages the npm package in dist/pkg (`npm run pack` packs it): Weir compiled to JavaScript with
 * declaration files and source maps (tsconfig.build.json), so Node runs it from node_modules
 * without a TypeScript loader; the assets the code reads at run time (the built-in schema image,
 * Weir's .proto files, the dashboard); the browser bundle of the client; the TypeScript sources
 * for Deno (the `deno` export and the edge relay, which Deno runs as they are); and a
 * package.json whose exports point at the built files per runtime.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "dist", "pkg");
const require = createRequire(import.meta.url);

type Exports = Record<string, string | Record<string, unknown>>;

/** An export target of the repository (a .ts source) as the package's: the built .js and its .d.ts. */
function built(target: string): string | Record<string, string> {
  if (!target.endsWith(".ts")) return target;
  const js = target.replace(/\.ts$/, ".js");
  return { types: target.replace(/\.ts$/, ".d.ts"), default: js };
}

function packageExports(exports: Exports): Exports {
  const result: Exports = {};
  for (const [path, target] of Object.entries(exports)) {
    if (typeof target === "string") {
      result[path] = built(target);
      continue;
    }
    const conditions: Record<string, unknown> = {};
    for (const [condition, value] of Object.entries(target)) {
      if (condition === "types" && typeof value === "string") conditions.types = value.replace(/\.ts$/, ".d.ts");
      else if (condition === "deno" && typeof value === "string") conditions.deno = value.replace(/^\.\/src\//, "./deno/src/");
      else if (typeof value === "string") conditions[condition] = value.endsWith(".ts") ? value.replace(/\.ts$/, ".js") : value;
      else
        conditions[condition] = Object.fromEntries(
          Object.entries(value as Record<string, string>).map(([c, v]) => [c, c === "types" ? v.replace(/\.ts$/, ".d.ts") : v]),
        );
    }
    result[path] = conditions;
  }
  return result;
}

/** Copies the .ts files (and data) of a source tree, for Deno. */
function copySources(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const path = join(from, name);
    if (statSync(path).isDirectory()) copySources(path, join(to, name));
    else if (/\.(ts|binpb)$/.test(name) && !name.endsWith(".d.ts")) {
      mkdirSync(to, { recursive: true });
      cpSync(path, join(to, name));
    }
  }
}

rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
execFileSync(
  process.execPath,
  [require.resolve("tsx/cli"), join(root, "src/build/bundle.ts"), "--platform", "browser", "src/client/browser.ts", join(out, "dist/weir-client.js")],
  {
    stdio: "inherit",
    cwd: root,
  },
);
cpSync(join(root, "src/gen/weir.binpb"), join(out, "src/gen/weir.binpb"));
for (const asset of ["index.html", "style.css", "app.js"]) cpSync(join(root, "gateway/dashboard", asset), join(out, "gateway/dashboard", asset));
cpSync(join(root, "proto"), join(out, "proto"), { recursive: true });
copySources(join(root, "src"), join(out, "deno/src"));
// Worker threads start from these files (their paths are fixed in the code); built, they need no loader.
writeFileSync(join(out, "workers/engine-worker.mjs"), 'export { default } from "./engine-worker.js";\n');
writeFileSync(join(out, "workers/tail-worker.mjs"), 'import "./tail-worker.js";\n');
mkdirSync(join(out, "bin"), { recursive: true });
writeFileSync(join(out, "bin/weir.mjs"), '#!/usr/bin/env node\nawait import("../gateway/cli/main.js");\n', { mode: 0o755 });
for (const file of ["README.md", "LICENSE"]) {
  try {
    cpSync(join(root, file), join(out, file));
  } catch {
    /* optional */
  }
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;
const pkg = {
  name: manifest.name,
  version: manifest.version,
  description: manifest.description,
  type: "module",
  license: manifest.license,
  engines: manifest.engines,
  bin: { weir: "./bin/weir.mjs" },
  exports: packageExports(manifest.exports as Exports),
  dependencies: manifest.dependencies,
  optionalDependencies: manifest.optionalDependencies,
};
writeFileSync(join(out, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`staged ${out} (${dirname(out)}): npm pack ${out}`);
