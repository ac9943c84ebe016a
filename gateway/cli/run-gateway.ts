/** `weir gateway`: one gateway process until SIGTERM/SIGINT; SIGHUP reloads the schema image. */
import { startGateway } from "../gateway.js";

export async function runGateway(): Promise<number> {
  const gateway = await startGateway();
  const stop = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  process.on("SIGHUP", () => {
    const path = gateway.config.schemaImage;
    if (!path) return gateway.logger.warn("SIGHUP: WEIR_SCHEMA_IMAGE is not set; nothing to reload");
    gateway.reloadSchemas(path).catch((err: unknown) => gateway.logger.error({ err }, "schema image refused"));
  });
  await stop;
  await gateway.close();
  return 0;
}
