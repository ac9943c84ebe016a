/**
 * The relay as a child process of Node, started exactly as `weir relay` runs it (bundled, on Deno,
 * in its sandbox): for the demo, the bench and tests.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { parseRelayConfig } from "./config.js";
import { relayCommand, writeRelayBundle, type DenoCommand } from "./deno-command.js";
import type { Relay } from "./relay.js";
import type { Refusal } from "./refusals.js";

export type RelaySnapshot = ReturnType<Relay["snapshot"]>;

/** Writes `config` (relay.json's content) and the bundle into `dir`; the command that runs the relay on them. */
export async function prepareRelay(config: Record<string, unknown>, dir: string): Promise<DenoCommand> {
  const configPath = join(dir, "relay.json");
  writeFileSync(configPath, JSON.stringify(config));
  return relayCommand(await writeRelayBundle(dir), configPath, parseRelayConfig(config));
}

export type RelayProcess = {
  readonly process: ChildProcess;
  /** ws://host:port/v1/ingest, for devices. */
  readonly url: string;
  /** GET /v1/stats. */
  stats(): Promise<RelaySnapshot>;
  /** GET /v1/refusals as the device `tenant` (its key): what the cloud refused of its events after the relay ACKed them. */
  refusals(tenant: string, apiKey: string, sinceMs?: number): Promise<Refusal[]>;
  /** SIGTERM (the outbox keeps what is unanswered); resolves once it exited. */
  stop(): Promise<void>;
};

/** Starts the relay for `config` (listen.port must be set) and resolves once it answers /v1/stats. */
export async function startRelayProcess(
  config: Record<string, unknown> & { listen: { host?: string; port: number; certFile?: string; keyFile?: string } },
  dir: string,
  stdio: StdioOptions = "ignore",
  /** The CA that signed listen.certFile, when it is not one the system trusts (tests). */
  ca?: string,
): Promise<RelayProcess> {
  const { command, args, env } = await prepareRelay(config, dir);
  const child = spawn(command, args, { env, stdio });
  const tls = config.listen.certFile !== undefined;
  const address = `${config.listen.host ?? "127.0.0.1"}:${config.listen.port}`;
  const base = `${tls ? "https" : "http"}://${address}`;
  const stats = async () => (await getJson(`${base}/v1/stats`, {}, ca)).body as RelaySnapshot;
  const deadline = Date.now() + 30_000;
  while (
    !(await stats().then(
      () => true,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the relay did not start (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    process: child,
    url: `${tls ? "wss" : "ws"}://${address}/v1/ingest`,
    stats,
    refusals: (tenant, apiKey, sinceMs) => fetchRefusals(base, tenant, apiKey, sinceMs, ca),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** GET <base>/v1/refusals with a device's credentials (HTTP Basic); throws on any status but 200. */
export async function fetchRefusals(base: string, tenant: string, apiKey: string, sinceMs?: number, ca?: string): Promise<Refusal[]> {
  const url = `${base}/v1/refusals${sinceMs === undefined ? "" : `?sinceMs=${sinceMs}`}`;
  const res = await getJson(url, { authorization: `Basic ${Buffer.from(`${tenant}:${apiKey}`).toString("base64")}` }, ca);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Refusal[];
}

/** GET with node:http(s) (fetch cannot be told to trust one extra CA); the body parsed as JSON when it is. */
function getJson(url: string, headers: Record<string, string>, ca?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith("https:") ? https.get : http.get;
    const req = get(url, { headers, ...(ca ? { ca } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the text itself
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", reject);
  });
}
