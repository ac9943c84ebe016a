/**
 * One ESM file from a TypeScript entry, with esbuild, for the runtimes that do not read our
 * sources directly: browsers and Deno.
 *
 *   bundleModule(entry, { platform: "browser" })  platform browser; a Node builtin that gets
 *       pulled in statically (import or require, "fs" or "node:fs") fails the build, naming the
 *       importer. A dynamic `import("node:…")` stays a runtime import (so portable code can load
 *       node:fs only when it runs on Node or Deno) and is listed as a warning.
 *   bundleModule(entry, { platform: "deno" })     platform neutral, ESM; Node builtins stay
 *       external as `node:*` specifiers (Deno implements them); npm packages resolve with Deno's
 *       own conditions ("deno", "node", then import/require/default) and main fields. CommonJS
 *       code that calls require() on a builtin gets a createRequire() shim.
 *
 * CLI (used by `npm run build:client`):
 *   tsx src/build/bundle.ts [--platform browser|deno] [--minify] [--sourcemap] <entry.ts> <out.js>
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { build, type Message, type Plugin } from "esbuild";

export type BundlePlatform = "browser" | "deno";

export type BundleOptions = {
  platform: BundlePlatform;
  /** Inline source map (Deno maps stack traces through it). Default false. */
  sourcemap?: boolean;
  minify?: boolean;
  /** Warnings esbuild (or the builtin guard) reports; default: printed to stderr. */
  onWarning?: (text: string) => void;
};

const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")));
/** "fs", "fs/promises", "node:fs", "node:test" … → the name without the prefix, else undefined. */
function builtinName(spec: string): string | undefined {
  if (spec.startsWith("node:")) return spec.slice(5);
  return builtins.has(spec) ? spec : undefined;
}

function formatMessage(m: Message): string {
  const loc = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : "";
  const notes = m.notes.map((n) => `\n    note: ${n.text}`).join("");
  return `${loc}${m.text}${notes}`;
}

/** Browser: static builtin imports are an error; dynamic ones stay runtime imports. */
function noNodeBuiltins(warn: (text: string) => void): Plugin {
  return {
    name: "weir-no-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        const name = builtinName(args.path);
        if (name === undefined || args.pluginData === "weir-builtin-probe") return undefined;
        if (args.kind === "dynamic-import" && args.path.startsWith("node:")) {
          warn(`${args.importer}: dynamic import("${args.path}") left as a runtime import (fails only if it runs in the browser)`);
          return { path: args.path, external: true };
        }
        // A package may map the builtin away through its "browser" field: let esbuild try first.
        const probe = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: "weir-builtin-probe",
        });
        if (probe.errors.length === 0 && !probe.external) return probe;
        return {
          errors: [
            {
              text: `Node builtin "${args.path}" (${args.kind}) pulled into a browser bundle by ${args.importer}`,
              notes: [{ text: "Browser bundles must not depend on Node builtins; import them dynamically on Node/Deno only, or use a web API." }],
            },
          ],
        };
      });
    },
  };
}

/** Deno: builtins stay external with the node: prefix Deno requires. */
function nodeBuiltinsExternal(): Plugin {
  return {
    name: "weir-node-builtins-external",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const name = builtinName(args.path);
        if (name === undefined) return undefined;
        return { path: `node:${name}`, external: true };
      });
    },
  };
}

// esbuild's __require shim calls a global `require`, which ESM in Deno lacks.
const DENO_REQUIRE_BANNER = 'import { createRequire as __weirCreateRequire } from "node:module";\nconst require = __weirCreateRequire(import.meta.url);\n';

/** Bundles `entry` and everything it imports (npm packages included) into one ESM file's text. */
export async function bundleModule(entry: string, opts: BundleOptions): Promise<string> {
  const warnings: string[] = [];
  const warn = opts.onWarning ?? ((text: string) => process.stderr.write(`bundle: warning: ${text}\n`));
  const common = {
    entryPoints: [resolve(entry)] as string[],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    sourcemap: opts.sourcemap ? "inline" : false,
    minify: opts.minify ?? false,
    logLevel: "silent",
    legalComments: "none",
    charset: "utf8",
  } as const;
  let result;
  try {
    result =
      opts.platform === "browser"
        ? await build({
            ...common,
            platform: "browser",
            plugins: [noNodeBuiltins((t) => warnings.push(t))],
          })
        : await build({
            ...common,
            platform: "neutral",
            mainFields: ["module", "main"],
            conditions: ["deno", "node"],
            resolveExtensions: [".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".json"],
            plugins: [nodeBuiltinsExternal()],
          });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (!errors?.length) throw err;
    throw new Error(`bundle ${relative(process.cwd(), entry)} for ${opts.platform} failed:\n  ${errors.map(formatMessage).join("\n  ")}`, { cause: err });
  }
  for (const w of result.warnings) warnings.push(formatMessage(w));
  for (const w of warnings) warn(w);
  const files = result.outputFiles ?? [];
  const file = files[0];
  if (!file || files.length !== 1) throw new Error(`bundle ${entry}: expected one output file, got ${files.length}`);
  let text = file.text;
  if (opts.platform === "deno" && text.includes('Dynamic require of "')) text = DENO_REQUIRE_BANNER + text;
  return text;
}

async function main(argv: string[]): Promise<void> {
  let platform: BundlePlatform = "browser";
  let minify = false;
  let sourcemap = false;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--platform") {
      const p = argv[++i];
      if (p !== "browser" && p !== "deno") throw new Error(`--platform must be browser or deno, got ${p}`);
      platform = p;
    } else if (a === "--minify") minify = true;
    else if (a === "--sourcemap") sourcemap = true;
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else positional.push(a);
  }
  const [entry, out] = positional;
  if (!entry || !out || positional.length !== 2) {
    throw new Error("usage: tsx src/build/bundle.ts [--platform browser|deno] [--minify] [--sourcemap] <entry.ts> <out.js>");
  }
  const text = await bundleModule(entry, { platform, minify, sourcemap });
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, text);
  process.stdout.write(`bundle: ${entry} → ${out} (${platform}, ${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB)\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
