/**
 * The dashboard's static files for startServer's `staticFiles`: read from this directory once, at
 * startup (no build step: the page is plain HTML, CSS and ES modules). The page itself is served at
 * /dashboard (and /dashboard/), its assets at /dashboard/<name>.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export type StaticFile = { readonly type: string; readonly body: Buffer };

const HERE = fileURLToPath(new URL(".", import.meta.url));

const ASSETS: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "proto.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

/** Path → content type and bytes. */
export function dashboardFiles(dir: string = HERE): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [name, type] of Object.entries(ASSETS)) files.set(`/dashboard/${name}`, { type, body: readFileSync(join(dir, name)) });
  const page = files.get("/dashboard/index.html")!;
  files.set("/dashboard", page);
  files.set("/dashboard/", page);
  return files;
}
