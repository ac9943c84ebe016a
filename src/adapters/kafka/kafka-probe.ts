/**
 * A cheap "does Kafka answer" check for readiness: one metadata request on a long-lived admin
 * connection, without kafkajs's retries (the caller's deadline decides; a check that fails is
 * simply tried again next round, on a new connection if the old one broke).
 */
import { Kafka, logLevel } from "kafkajs";
import { kafkajsSecurity, type KafkaSecurity } from "./kafka-security.js";

export type KafkaProbe = { check(): Promise<void>; close(): Promise<void> };

export function kafkaProbe(brokers: readonly string[], clientId: string, timeoutMs: number, security?: KafkaSecurity): KafkaProbe {
  const kafka = new Kafka({
    ...kafkajsSecurity(security),
    brokers: [...brokers],
    clientId,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 3_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  let admin: ReturnType<Kafka["admin"]> | undefined;
  return {
    async check() {
      try {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        await admin.describeCluster();
      } catch (err) {
        const broken = admin;
        admin = undefined;
        await broken?.disconnect().catch(() => {});
        throw err;
      }
    },
    async close() {
      await admin?.disconnect().catch(() => {});
    },
  };
}
