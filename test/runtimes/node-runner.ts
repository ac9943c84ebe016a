/**
 * runInNode(suitePath, opts): the suite module imported as it is (no bundling) into this process,
 * run with env.runtime "node". Control calls go straight to opts.control, but through the same
 * JSON round trip as in Deno and the browser, so a suite sees the same values everywhere.
 * params.tmpDir is a fresh directory, removed afterwards.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { answerControl, checkReport, DEFAULT_TIMEOUT_MS, errorText, toJson, type RunOptions } from "./host.js";
import type { SuiteEnv, SuiteModule, SuiteReport } from "./suite-types.js";

export async function runInNode(suitePath: string, opts: RunOptions = {}): Promise<SuiteReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tmpDir = await mkdtemp(join(tmpdir(), "weir-suite-node-"));
  const logged: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const mod = (await import(pathToFileURL(resolve(suitePath)).href)) as Partial<SuiteModule>;
    if (typeof mod.run !== "function") throw new Error(`${suitePath} does not export run(env)`);
    const env: SuiteEnv = {
      params: Object.freeze(toJson({ ...opts.params, tmpDir }) as Record<string, unknown>),
      runtime: "node",
      log(line) {
        const text = String(line);
        logged.push(text);
        opts.log?.(text);
      },
      async control(name, arg) {
        const reply = await answerControl(opts.control, name, arg);
        if (!reply.ok) throw new Error(reply.error);
        return reply.result;
      },
    };
    const report = await Promise.race([
      mod.run(env),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return checkReport(toJson(report), `node ${suitePath}`);
  } catch (err) {
    throw new Error(`runInNode(${suitePath}) failed: ${errorText(err)}\n--- suite log ---\n${logged.join("\n")}`, { cause: err });
  } finally {
    clearTimeout(timer);
    await rm(tmpDir, { recursive: true, force: true });
  }
}
