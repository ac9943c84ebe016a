/**
 * `weir gateway`: one gateway until SIGTERM/SIGINT, served by WEIR_INGEST_PROCESSES processes on
 * its port (default one per core; ./ingest-group.ts); SIGHUP reloads the schema image. Exits 1
 * when its processor jobs cannot go on (so the supervisor starts a fresh process).
 */
import { availableParallelism } from "node:os";
import { resolveConfig } from "../../src/config.js";
import { startGateway, type Gateway } from "../gateway.js";
import { ingestWorkerOf } from "../../src/config/process-share.js";
import { startIngestGroup, startIngestWorker } from "./ingest-group.js";

export async function runGateway(): Promise<number> {
  let fatal: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => (fatal = resolve));
  const onFatal = () => fatal(1);
  const workerOf = ingestWorkerOf();
  const processes = workerOf || resolveConfig().ingestProcesses || availableParallelism();

  let gateway: Gateway;
  let stopAll: () => Promise<void>;
  let forward: (sig: NodeJS.Signals) => void = () => {};
  if (workerOf > 1) {
    gateway = await startIngestWorker(workerOf, onFatal);
    stopAll = () => gateway.close();
  } else if (processes > 1) {
    const group = await startIngestGroup(processes, onFatal);
    gateway = group.gateway;
    stopAll = () => group.stop();
    forward = (sig) => group.signal(sig);
  } else {
    gateway = await startGateway({ onFatal });
    stopAll = () => gateway.close();
  }
  const stop = new Promise<number>((resolve) => {
    process.once("SIGTERM", () => resolve(0));
    process.once("SIGINT", () => resolve(0));
  });
  process.on("SIGHUP", () => {
    forward("SIGHUP");
    const path = gateway.config.schemaImage;
    if (!path) return gateway.logger.warn("SIGHUP: WEIR_SCHEMA_IMAGE is not set; nothing to reload");
    gateway.reloadSchemas(path).catch((err: unknown) => gateway.logger.error({ err }, "schema image refused"));
  });
  const code = await Promise.race([stop, failed]);
  await stopAll();
  return code;
}
