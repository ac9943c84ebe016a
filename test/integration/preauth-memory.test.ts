/**
 * Memory an unauthenticated client can pin (issue 15's finding: 300 sockets, each sending a
 * partial 8 MiB frame and never a Hello, took a gateway from 402 MiB to 1.8 GiB). Against a
 * gateway child with its default limits (WEIR_MAX_FRAME_BYTES 4 MiB: uWS buffers frames up to
 * 8 MiB; WEIR_MAX_PREAUTH_CONNECTIONS 64), 300 such attackers from 30 loopback addresses: at
 * most 64 are upgraded, the rest are turned away with HTTP 503; the gateway's RSS grows by less
 * than the documented bound (64 × 8 MiB, plus room for the process's own buffers); the attackers are closed at the Hello timeout; a real client publishes after.
 */
import net from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { waitFor } from "./support.js";

const MB = 1024 * 1024;
const FRAME = 8 * MB - 64; // under uWS's maxPayloadLength (2 × WEIR_MAX_FRAME_BYTES)
const ATTACKERS = 300;
const ADDRESSES = 30;
const PREAUTH_CAP = 64;
const tenant = `preauth-${Date.now().toString(36)}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: GatewayChild;

beforeAll(async () => {
  gateway = await startGatewayChild({
    services,
    gatewayId: "preauth",
    apiKeys: [`${tenant}:key`],
    // Defaults for every limit under test; a short Hello timeout only to keep the test quick.
    env: { WEIR_HELLO_TIMEOUT_MS: "8000" },
  });
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
});

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

type Attacker = { status?: number; upgraded: boolean; sentAll: boolean; closed: boolean };

/**
 * One attacker from `localAddress`: a WebSocket upgrade, then a binary frame announcing FRAME
 * bytes of which all but the last are sent; it never sends a Hello and never finishes the frame.
 */
function attack(port: number, localAddress: string): Attacker {
  const state: Attacker = { upgraded: false, sentAll: false, closed: false };
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => {});
  socket.on("close", () => (state.closed = true));
  socket.write(
    "GET /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let head = "";
  const onData = (chunk: Buffer) => {
    head += chunk.toString("latin1");
    const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
    if (!m) return;
    socket.off("data", onData);
    state.status = Number(m[1]);
    if (state.status !== 101) return socket.destroy();
    state.upgraded = true;
    void sendPartialFrame(socket).then(
      () => (state.sentAll = true),
      () => {},
    );
  };
  socket.on("data", onData);
  return state;
}

const ZEROS = Buffer.alloc(MB);
async function sendPartialFrame(socket: net.Socket): Promise<void> {
  // FIN + binary; masked, 64-bit length; a zero mask leaves the payload as sent.
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(FRAME), 2);
  header.writeUInt32BE(0, 10);
  socket.write(header);
  for (let left = FRAME - 1; left > 0 && !socket.destroyed; left -= ZEROS.length) {
    if (!socket.write(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left))) await new Promise((r) => socket.once("drain", r));
  }
}

test("300 unauthenticated sockets each sending a partial 8 MiB frame: at most 64 upgraded, RSS within 64 × 8 MiB, all closed at the Hello timeout, a real client served after", async () => {
  const port = Number(new URL(gateway.url).port);
  const pid = gateway.process.pid!;
  const rss0 = rssOf(pid);
  const attackers = Array.from({ length: ATTACKERS }, (_, i) => attack(port, `127.0.0.${2 + (i % ADDRESSES)}`));
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  try {
    await waitFor(() => attackers.every((a) => a.status !== undefined || a.closed), "every attacker answered");
    const upgraded = attackers.filter((a) => a.upgraded);
    await waitFor(() => upgraded.every((a) => a.sentAll || a.closed), "the upgraded attackers to send their partial frames");
    // They hold their partial frames until the Hello timeout closes them.
    await waitFor(() => upgraded.every((a) => a.closed), "the Hello timeout to close every attacker", 60_000);
  } finally {
    clearInterval(sampler);
  }
  const refused = attackers.filter((a) => a.status === 429 || a.status === 503);
  const upgraded = attackers.filter((a) => a.upgraded).length;
  const growthMb = (peak - rss0) / MB;
  console.log(
    `pre-auth abuse: ${upgraded} upgraded, ${refused.length} refused (429: ${refused.filter((a) => a.status === 429).length}, 503: ${refused.filter((a) => a.status === 503).length}); ` +
      `RSS ${(rss0 / MB).toFixed(0)} MiB -> peak ${(peak / MB).toFixed(0)} MiB (+${growthMb.toFixed(0)} MiB)`,
  );
  expect(upgraded).toBeGreaterThan(0);
  expect(upgraded).toBeLessThanOrEqual(PREAUTH_CAP);
  expect(refused.length + upgraded).toBe(ATTACKERS);
  // The bound: 64 frames of 8 MiB, plus 64 MiB for the process's own buffers and allocator slack.
  expect(peak - rss0).toBeLessThan(PREAUTH_CAP * 8 * MB + 64 * MB);

  // Nothing of it is left in the way of a real client.
  const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "key" });
  const [result] = await client.publishUntilFinal([{ ...accessLogEvent(createRng(1), 0, { baseTimeMs: Date.now() }), id: `${tenant}-after` }]);
  await client.close();
  expect(result!.code).toBe(ResultCode.ACK);
}, 180_000);
