/**
 * `weir gateway`: one gateway process until SIGTERM/SIGINT; SIGHUP reloads the schema image.
 * Exits 1 when its processor jobs cannot go on (so the supervisor starts a fresh process).
 */
import { startGateway } from "../gateway.js";

export async function runGateway(): Promise<number> {
  let fatal: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => (fatal = resolve));
  const gateway = await startGateway({ onFatal: () => fatal(1) });
  const stop = new Promise<number>((resolve) => {
    process.once("SIGTERM", () => resolve(0));
    process.once("SIGINT", () => resolve(0));
  });
  process.on("SIGHUP", () => {
    const path = gateway.config.schemaImage;
    if (!path) return gateway.logger.warn("SIGHUP: WEIR_SCHEMA_IMAGE is not set; nothing to reload");
    gateway.reloadSchemas(path).catch((err: unknown) => gateway.logger.error({ err }, "schema image refused"));
  });
  const code = await Promise.race([stop, failed]);
  await gateway.close();
  return code;
}
