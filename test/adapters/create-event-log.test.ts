import { describe, expect, it } from "vitest";
import { Partitioners } from "kafkajs";
import { compatibilityPartitioner } from "@platformatic/kafka";
import { createEventLog, deliveryTimeoutMs, isKafkaClient, kafkaClients } from "../../src/adapters/kafka/create-event-log.js";
import { KafkajsEventLog } from "../../src/adapters/kafka/kafkajs-event-log.js";
import { ConfluentEventLog } from "../../src/adapters/kafka/confluent-event-log.js";
import { PlatformaticEventLog } from "../../src/adapters/kafka/platformatic-event-log.js";
import { resolveConfig } from "../../src/config.js";
import { WeirError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";

const settingsFor = (client: string) => ({
  client,
  brokers: ["127.0.0.1:1"],
  clientId: "t",
  replicationFactor: 1,
  stallMs: 100,
  publishTimeoutMs: 60_000,
  dedupPendingTtlMs: 120_000,
  logger: silentLogger,
});

describe("WEIR_KAFKA_CLIENT", () => {
  it("defaults to confluent (librdkafka) and accepts each supported client", () => {
    expect(resolveConfig({}, {}).kafkaClient).toBe("confluent");
    for (const client of kafkaClients) {
      expect(resolveConfig({}, { WEIR_KAFKA_CLIENT: client }).kafkaClient).toBe(client);
      expect(resolveConfig({ kafkaClient: client }, {}).kafkaClient).toBe(client);
    }
  });

  it.each(["rdkafka", "", "KafkaJS"])("refuses %j with WEIR_ERR_CONFIG naming the variable and the choices", (raw) => {
    let thrown: unknown;
    try {
      resolveConfig({}, { WEIR_KAFKA_CLIENT: raw });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(WeirError);
    expect((thrown as WeirError).code).toBe("WEIR_ERR_CONFIG");
    expect((thrown as WeirError).message).toContain("WEIR_KAFKA_CLIENT");
    expect((thrown as WeirError).message).toContain("kafkajs, confluent, platformatic");
  });
});

describe("createEventLog", () => {
  it("builds the adapter of the chosen client without connecting", async () => {
    expect(await createEventLog(settingsFor("kafkajs"))).toBeInstanceOf(KafkajsEventLog);
    expect(await createEventLog(settingsFor("confluent"))).toBeInstanceOf(ConfluentEventLog);
    expect(await createEventLog(settingsFor("platformatic"))).toBeInstanceOf(PlatformaticEventLog);
  });

  it("refuses an unknown client with WEIR_ERR_CONFIG", async () => {
    const err = await createEventLog(settingsFor("franz")).catch((e: unknown) => e);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    expect(isKafkaClient("franz")).toBe(false);
    expect(isKafkaClient("confluent")).toBe(true);
  });

  it("bounds a client's retries past the publish timeout and before the dedup claim expires", () => {
    expect(deliveryTimeoutMs(60_000, 120_000)).toBe(90_000);
    for (const [publish, ttl] of [
      [1000, 1001],
      [5000, 600_000],
      [60_000, 60_001],
    ] as const) {
      const d = deliveryTimeoutMs(publish, ttl);
      expect(d).toBeGreaterThanOrEqual(publish);
      expect(d).toBeLessThan(ttl);
    }
  });
});

describe("partitioning", () => {
  it("platformatic's partitioner matches kafkajs' (Java's murmur2) for keyed records", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 6, 7]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
      for (let i = 0; i < 500; i++) {
        const key = `key-${i}-${"x".repeat(i % 17)}`;
        const expected = kafkajs({ topic: "t", partitionMetadata, message: { key, value: null } });
        const raw = compatibilityPartitioner({ topic: "t", key, value: Buffer.alloc(0) }, Buffer.from(key));
        expect(raw % partitions, key).toBe(expected);
      }
    }
  });
});
