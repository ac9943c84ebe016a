/**
 * runInBrowser(suitePath, opts): the suite bundled for the browser (src/build/bundle.ts) and served
 * with an empty HTML page from a node:http server on 127.0.0.1 (port 0), so the page has a real
 * origin (IndexedDB, localStorage, WebSocket all behave as in production). Headless Debian
 * Chromium (WEIR_CHROMIUM overrides /usr/bin/chromium), driven by playwright-core, opens the page
 * in a fresh context (empty storage), imports the bundle and awaits run(env) with env.runtime
 * "browser". env.control goes to the host through page.exposeFunction; env.log is console.log.
 * Console output, page errors and failed requests go into the error when the run fails.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { bundleModule } from "../../src/build/bundle.js";
import { answerControl, checkReport, DEFAULT_TIMEOUT_MS, errorText, OutputTail, toJson, type RunOptions } from "./host.js";
import type { SuiteReport } from "./suite-types.js";

export const CHROMIUM = process.env.WEIR_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>weir portable suite</title><link rel="icon" href="data:,"></head>
<body></body></html>
`;

// Evaluated in the page (a string, so nothing the host's TS transform adds can leak into it).
function driverExpression(params: unknown): string {
  return `(async (params) => {
  const suite = await import("/suite.js");
  if (typeof suite.run !== "function") throw new Error("the suite module does not export run(env)");
  const env = {
    params: Object.freeze(params),
    runtime: "browser",
    log(line) { console.log(String(line)); },
    async control(name, arg) {
      const reply = await globalThis.__weirControl(name, arg === undefined ? null : arg);
      if (!reply.ok) throw new Error(reply.error);
      return reply.result;
    },
  };
  // JSON here, so the host sees exactly what the other runtimes send.
  return JSON.stringify(await suite.run(env));
})(${JSON.stringify(params)})`;
}

export async function runInBrowser(suitePath: string, opts: RunOptions = {}): Promise<SuiteReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const output = new OutputTail();
  let bundle = "";
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET") return send(405, "text/plain", "method not allowed");
    if (path === "/") return send(200, "text/html; charset=utf-8", PAGE);
    if (path === "/suite.js") return send(200, "text/javascript; charset=utf-8", bundle);
    output.add(`[server] 404 ${path}\n`);
    send(404, "text/plain", "not found");
  });
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const run = async (): Promise<SuiteReport> => {
      const launching = chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      // If bundling fails, still wait for the launch so the browser gets closed.
      const [launched, built] = await Promise.allSettled([
        launching,
        bundleModule(suitePath, { platform: "browser", onWarning: (w) => output.add(`bundle warning: ${w}\n`) }),
      ]);
      if (launched.status === "fulfilled") browser = launched.value;
      if (finished) {
        await browser?.close();
        throw new Error("aborted");
      }
      if (built.status === "rejected") throw built.reason;
      if (launched.status === "rejected") throw launched.reason;
      bundle = built.value;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const context = await browser!.newContext();
      const page = await context.newPage();
      page.on("console", (m) => {
        output.add(`[console.${m.type()}] ${m.text()}\n`);
        if (m.type() === "log") opts.log?.(m.text());
      });
      page.on("pageerror", (err) => output.add(`[pageerror] ${errorText(err)}\n`));
      page.on("requestfailed", (r) => output.add(`[requestfailed] ${r.url()}: ${r.failure()?.errorText ?? "?"}\n`));
      page.on("crash", () => output.add("[crash] the page crashed\n"));
      await page.exposeFunction("__weirControl", (name: unknown, arg: unknown) => answerControl(opts.control, name, arg));
      await page.goto(`${origin}/`);
      const json = await page.evaluate<string>(driverExpression(toJson({ ...opts.params })));
      return checkReport(JSON.parse(json), `browser ${suitePath}`);
    };
    return await Promise.race([run(), timedOut]);
  } catch (err) {
    throw new Error(`runInBrowser(${suitePath}) failed: ${errorText(err)}\n--- browser output ---\n${output.toString()}`, { cause: err });
  } finally {
    finished = true;
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    server.closeAllConnections();
    if (server.listening) await new Promise((r) => server.close(r));
  }
}
