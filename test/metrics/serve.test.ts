import { afterEach, describe, expect, it } from "vitest";
import { serveMetrics } from "../../src/metrics/serve.js";
import { WeirMetrics } from "../../src/metrics/prometheus.js";

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(token: string) {
  const server = await serveMetrics(new WeirMetrics(), "127.0.0.1", 0, undefined, token);
  servers.push(server);
  return (path: string, authorization?: string) => fetch(`http://127.0.0.1:${server.port}${path}`, authorization ? { headers: { authorization } } : {});
}

describe("serveMetrics (weir processor)", () => {
  it("serves /metrics only to the bearer of the metrics token once one is set; health pages stay open", async () => {
    const get = await serve("s3cret");
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", "Bearer wrong")).status).toBe(401);
    const ok = await get("/metrics", "Bearer s3cret");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("# HELP");
    expect((await get("/healthz")).status).toBe(200);
  });

  it("serves /metrics to anyone without a token", async () => {
    const get = await serve("");
    expect((await get("/metrics")).status).toBe(200);
  });
});
