/**
 * The dashboard's files for startServer's `staticFiles`. index.html and style.css are served as
 * they are; app.js is served bundled with what it imports (codec.ts, the generated schemas and
 * protobuf-es) into one browser module by src/build/bundle.ts, so the page speaks the protocol
 * through the same library and schemas as the gateway instead of a codec of its own.
 *
 * The bundle is built in memory on the first call and kept for the life of the process (about
 * 0.1 s with esbuild): a fresh clone serves the dashboard with no build step, and a gateway never
 * serves a bundle older than its own schemas. The page is served at /dashboard (and /dashboard/),
 * its assets at /dashboard/<name>.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModule } from "../../src/build/bundle.js";

export type StaticFile = { readonly type: string; readonly body: Buffer };

const HERE = fileURLToPath(new URL(".", import.meta.url));

/** Served as they are. */
const PLAIN_ASSETS: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};
/** The page's one script, served as a bundle of everything it imports. */
const SCRIPT = "app.js";

/** Directory → its bundled app.js, built once per process. */
const scripts = new Map<string, Promise<Buffer>>();

/** app.js and everything it imports as one ES module for browsers (Node builtins fail the build). */
export function dashboardScript(dir: string = HERE): Promise<Buffer> {
  let script = scripts.get(dir);
  if (!script) {
    script = bundleModule(join(dir, SCRIPT), { platform: "browser" }).then((text) => Buffer.from(text));
    scripts.set(dir, script);
    // A failed build is not kept: the next call tries again.
    script.catch(() => scripts.delete(dir));
  }
  return script;
}

/** Path → content type and bytes. */
export async function dashboardFiles(dir: string = HERE): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for (const [name, type] of Object.entries(PLAIN_ASSETS)) files.set(`/dashboard/${name}`, { type, body: await readFile(join(dir, name)) });
  files.set(`/dashboard/${SCRIPT}`, { type: "text/javascript; charset=utf-8", body: await dashboardScript(dir) });
  const page = files.get("/dashboard/index.html")!;
  files.set("/dashboard", page);
  files.set("/dashboard/", page);
  return files;
}
