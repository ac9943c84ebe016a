/**
 * The gateway against Kafka and Redis configured the way production runs them (issue 15): a
 * broker whose clients' listener speaks SASL_SSL with a SCRAM-SHA-512 user, and a Redis reached
 * over TLS as an ACL user (default user off, the user confined to Weir's keys and safe commands),
 * certificates from a throwaway CA, and the gateway itself serving wss://. With each of the three
 * Kafka clients behind the event log, events are acked and land in Kafka once, and a subscriber
 * over wss:// gets them back (its reader, the stale-claim lookup and the health probe are kafkajs).
 * The plaintext listener and the plain Redis port exist only for this test's own reader.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import net from "node:net";
import { Redis } from "ioredis";
import { Kafka, logLevel, type KafkaConfig } from "kafkajs";
import { kafkajsSecurity } from "../../src/adapters/kafka/kafka-security.js";
import { IngestClient, ResultCode, subscribe, type WebSocketConstructor } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";
import { makeTestCertificates, trustingWebSocket, type TestCertificates } from "./tls-certs.js";

const run = `secure-${Date.now().toString(36)}`;
const users = { kafkaUser: "weir-gateway", kafkaPassword: "kafka-secret-0", redisUser: "weir", redisPassword: "redis-secret-0" };
let certs: TestCertificates;
let stack: TestStack;
let TrustingWebSocket: WebSocketConstructor;

beforeAll(async () => {
  certs = makeTestCertificates();
  stack = await startTestStack({ secure: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, ...users } });
  TrustingWebSocket = trustingWebSocket(certs.ca);
}, 180_000);
afterAll(async () => {
  await stack?.close();
  certs?.remove();
});

function secureGateway(kafkaClient: string, tenant: string): Promise<Gateway> {
  return gatewayFor(
    { kafkaBrokers: stack.secure!.kafkaBrokers, redisUrl: stack.secure!.redisUrl },
    {
      kafkaClient,
      apiKeys: [`${tenant}:key`],
      kafkaSecurityProtocol: "sasl_ssl",
      kafkaSaslMechanism: "scram-sha-512",
      kafkaSaslUsername: users.kafkaUser,
      kafkaSaslPassword: users.kafkaPassword,
      kafkaSslCaFile: certs.caFile,
      redisTlsCaFile: certs.caFile,
      tlsCertFile: certs.certFile,
      tlsKeyFile: certs.keyFile,
    },
  );
}

describe.each(["confluent", "kafkajs", "platformatic"])("the gateway with the %s client, Kafka SASL_SSL and Redis ACL + TLS", (kafkaClient) => {
  const tenant = `${run}-${kafkaClient}`;
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await secureGateway(kafkaClient, tenant);
  }, 120_000);
  afterAll(async () => {
    await gateway?.close();
  });

  test("acks every event once it is in Kafka, and a subscriber over wss:// gets them back", async () => {
    const rng = createRng(9);
    const events = Array.from({ length: 100 }, (_, i) => ({ ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 1000 }), id: `${tenant}-${i}` }));
    const got: string[] = [];
    const subscription = subscribe({
      url: gateway.url.replace("/v1/ingest", "/v1/subscribe"),
      tenant,
      apiKey: "key",
      stream: "events.weir.events.v1.HttpAccessLog",
      from: { timestampMs: Date.now() - 60_000 },
      WebSocket: TrustingWebSocket,
    });
    const reading = (async () => {
      for await (const d of subscription) if (got.push(d.key) >= events.length) break;
    })();
    const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "key", WebSocket: TrustingWebSocket });
    const results = await client.publishUntilFinal(events);
    await client.close();
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
    await waitFor(() => got.length >= events.length, "the subscriber to get every event");
    await reading;
    subscription.close();
    // Read back through the plaintext listener, by a reader that shares nothing with the gateway's clients.
    const counts = countById(await readTopics(stack.kafkaBrokers, eventTopics(), tenant));
    expect(events.every((e) => counts.get(e.id) === 1)).toBe(true);
    // The gateway really is on the secure listener and Redis really holds its keys.
    expect(gateway.state).toBe("ready");
  }, 120_000);
});

test("Redis refuses a client without the ACL user's password, and the user outside Weir's keys and dangerous commands", async () => {
  // The plain port answers a command without credentials with NOAUTH (raw RESP: no client's own retries).
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: stack.redisPort }, () => socket.write("*2\r\n$3\r\nGET\r\n$9\r\nweir:test\r\n"));
    socket.on("data", (chunk) => {
      resolve(chunk.toString());
      socket.destroy();
    });
    socket.on("error", reject);
  });
  expect(reply).toMatch(/^-NOAUTH/);

  const weir = new Redis(stack.secure!.redisUrl, { tls: { ca: certs.ca }, maxRetriesPerRequest: 0 });
  await expect(weir.set("weir:probe", "1")).resolves.toBe("OK");
  await expect(weir.set("other:key", "1")).rejects.toThrow(/NOPERM/);
  await expect(weir.flushall()).rejects.toThrow(/NOPERM/);
  weir.disconnect();
});

test("the broker refuses a wrong SCRAM password on the secure listener", async () => {
  const client = (security: Pick<KafkaConfig, "ssl" | "sasl">) =>
    new Kafka({ brokers: [stack.secure!.kafkaBrokers], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, ...security }).admin();
  const wrong = client(
    kafkajsSecurity({ protocol: "sasl_ssl", sasl: { mechanism: "scram-sha-512", username: users.kafkaUser, password: "wrong" }, caPem: certs.ca }),
  );
  await expect(wrong.connect()).rejects.toThrow(/SASL|[Aa]uthentication/);
  const right = client(
    kafkajsSecurity({ protocol: "sasl_ssl", sasl: { mechanism: "scram-sha-512", username: users.kafkaUser, password: users.kafkaPassword }, caPem: certs.ca }),
  );
  await right.connect();
  await right.disconnect();
});
