/**
 * runInDeno(suitePath, opts): the suite bundled for Deno (src/build/bundle.ts) into a fresh
 * directory next to a tiny driver that imports it, calls run(env) and posts the report back;
 * env.control(name, arg) is a POST to an HTTP server of this process on 127.0.0.1 (port 0, a
 * random path token). The Deno binary comes from the `deno` npm package (WEIR_DENO overrides).
 *
 * Deno is run offline and sandboxed:
 *   deno run --no-config --no-lock --no-remote --no-npm --cached-only --no-prompt --allow-env
 *     --allow-net=127.0.0.1,localhost --allow-read=<tmpDir> --allow-write=<tmpDir> driver.mjs
 * with a scrubbed environment (only DENO_DIR, DENO_NO_UPDATE_CHECK=1, DENO_NO_PROMPT=1,
 * NO_COLOR=1: no proxy variables, nothing else of this process, hence the harmless --allow-env)
 * and the run directory as cwd. No sys, run, ffi or import permission; reads and writes only
 * in params.tmpDir (node:fs works there). Loading the bundle itself needs no read permission.
 * DENO_DIR defaults to <os tmpdir>/weir-deno-dir (WEIR_DENO_DIR overrides); it only holds
 * Deno's V8 code cache, nothing is ever downloaded.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleModule } from "../../src/build/bundle.js";
import { DENO_RUN_OFFLINE, denoBinary, denoDir } from "../../src/build/deno.js";

export { denoBinary, denoDir };
import { answerControl, checkReport, DEFAULT_TIMEOUT_MS, errorText, OutputTail, toJson, type RunOptions } from "./host.js";
import type { SuiteReport } from "./suite-types.js";

/** The exact argv after the binary, for a driver in runDir and a suite data directory. */
export function denoArgs(dataDir: string, driver = "driver.mjs"): string[] {
  return [
    ...DENO_RUN_OFFLINE,
    // All env: the child's environment is scrubbed (see spawn below), so this exposes nothing of
    // the host's, and npm code like `ws` reads its switches (WS_NO_BUFFER_UTIL…) at load time.
    "--allow-env",
    "--allow-net=127.0.0.1,localhost",
    `--allow-read=${dataDir}`,
    `--allow-write=${dataDir}`,
    driver,
  ];
}

function driverSource(hostUrl: string, params: unknown): string {
  return `import * as suite from "./suite.mjs";
const HOST = ${JSON.stringify(hostUrl)};
const params = Object.freeze(${JSON.stringify(params)});
async function post(path, body) {
  const res = await fetch(HOST + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error("harness host answered " + res.status + " to " + path + ": " + text);
  return JSON.parse(text);
}
const env = {
  params,
  runtime: "deno",
  log(line) { console.log(String(line)); },
  async control(name, arg) {
    const reply = await post("/control", { name, arg: arg === undefined ? null : arg });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  },
};
let outcome;
try {
  if (typeof suite.run !== "function") throw new Error("the suite module does not export run(env)");
  outcome = { ok: true, report: await suite.run(env) };
} catch (err) {
  outcome = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
await post("/report", outcome);
// Whatever the suite left open (sockets, timers) must not keep the process alive.
Deno.exit(outcome.ok ? 0 : 1);
`;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export async function runInDeno(suitePath: string, opts: RunOptions = {}): Promise<SuiteReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const runDir = await mkdtemp(join(tmpdir(), "weir-suite-deno-"));
  const dataDir = join(runDir, "data");
  const output = new OutputTail();
  const token = randomBytes(12).toString("hex");
  let settle: { resolve(r: SuiteReport): void; reject(e: Error): void } | undefined;
  let reported = false;
  let finished = false;
  const done = new Promise<SuiteReport>((resolve, reject) => (settle = { resolve, reject }));

  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || !req.url?.startsWith(`/${token}/`)) return reply(404, { ok: false, error: "not found" });
    const route = req.url.slice(token.length + 1);
    readJson(req)
      .then(async (body) => {
        const msg = body as { name?: unknown; arg?: unknown; ok?: unknown; report?: unknown; error?: unknown };
        if (route === "/control") return reply(200, await answerControl(opts.control, msg.name, msg.arg));
        if (route === "/report") {
          reported = true;
          reply(200, { ok: true });
          if (msg.ok === true) {
            try {
              settle?.resolve(checkReport(msg.report, `deno ${suitePath}`));
            } catch (err) {
              settle?.reject(err as Error);
            }
          } else settle?.reject(new Error(`run() threw: ${String(msg.error)}`));
          return;
        }
        reply(404, { ok: false, error: `unknown route ${route}` });
      })
      .catch((err: unknown) => reply(400, { ok: false, error: errorText(err) }));
  });

  let child: ReturnType<typeof spawn> | undefined;
  let exited: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
    });
    const started = (async () => {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      const hostUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${token}`;
      const bundle = await bundleModule(suitePath, { platform: "deno", sourcemap: true, onWarning: (w) => output.add(`bundle warning: ${w}\n`) });
      await mkdir(dataDir);
      await writeFile(join(runDir, "suite.mjs"), bundle);
      await writeFile(join(runDir, "driver.mjs"), driverSource(hostUrl, toJson({ ...opts.params, tmpDir: dataDir })));
      await mkdir(denoDir(), { recursive: true });
      if (finished) return;
      child = spawn(denoBinary(), denoArgs(dataDir), {
        cwd: runDir,
        env: { DENO_DIR: denoDir(), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const c = child;
      exited = new Promise((resolve) => {
        c.once("close", () => resolve());
        c.once("error", () => resolve()); // spawn failed: there may be no "close"
      });
      let partial = "";
      c.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        output.add(chunk);
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) opts.log?.(line);
      });
      c.stderr!.setEncoding("utf8").on("data", (chunk: string) => output.add(chunk));
      c.once("error", (err) => settle?.reject(err));
      c.once("close", (code, signal) => {
        if (partial) opts.log?.(partial);
        // A report posted just before exit wins: settle only rejects if nothing came.
        setTimeout(() => settle?.reject(new Error(`deno exited (code ${code}, signal ${signal}) without a report`)), 50);
      });
    })();
    started.catch((err: unknown) => settle?.reject(err as Error));
    return await Promise.race([done, timedOut]);
  } catch (err) {
    throw new Error(`runInDeno(${suitePath}) failed: ${errorText(err)}\n--- deno output (${runDir}) ---\n${output.toString()}`, { cause: err });
  } finally {
    finished = true;
    clearTimeout(timer);
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    // After a report the driver exits by itself: give it a moment. Otherwise (timeout) kill now.
    if (running() && reported) await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    if (running()) child!.kill("SIGKILL");
    await exited;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(runDir, { recursive: true, force: true });
  }
}
