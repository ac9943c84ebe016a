/**
 * The faults, one at a time, each lasting until the service it hits is back (killed processes are
 * started again, as a supervisor would). The fixed waits are the faults' own length, not
 * synchronisation: nothing here waits for a condition by sleeping.
 */
import { Kafka, logLevel } from "kafkajs";
import type { ChaosWorld } from "./chaos-world.js";

export type Fault = { readonly name: string; inject(world: ChaosWorld): Promise<void> };

const EVENTS_TOPIC = "weir.events.http-access-log";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function leaderOf(world: ChaosWorld, topic: string, partition: number): Promise<number> {
  const admin = new Kafka({ brokers: world.stack.kafkaBrokerList, logLevel: logLevel.NOTHING, clientId: "weir-chaos-leader" }).admin();
  await admin.connect();
  try {
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    return meta!.partitions.find((p) => p.partitionId === partition)!.leader;
  } finally {
    await admin.disconnect();
  }
}

export const FAULTS: readonly Fault[] = [
  {
    name: "SIGKILL of the partition leader broker",
    async inject(world) {
      const leader = await leaderOf(world, EVENTS_TOPIC, 0);
      const broker = world.stack.brokers.find((b) => b.nodeId === leader)!;
      await broker.stop({ kill: true });
      await sleep(5_000);
      await broker.start();
    },
  },
  {
    name: "SIGKILL of a gateway",
    async inject(world) {
      await world.gateways[0]!.kill("SIGKILL");
      await world.restartGateway(0);
    },
  },
  {
    name: "SIGKILL of a processor",
    async inject(world) {
      await world.processors[0]!.kill("SIGKILL");
      await world.restartProcessor(0);
    },
  },
  {
    name: "SIGKILL of the client",
    async inject(world) {
      await world.client.kill("SIGKILL");
      await world.restartClient();
    },
  },
  {
    name: "SIGSTOP of Redis for 8 s",
    async inject(world) {
      world.stack.pause("redis");
      await sleep(8_000);
      world.stack.resume("redis");
    },
  },
  {
    name: "SIGSTOP of a broker for 8 s",
    async inject(world) {
      const broker = world.stack.brokers[1]!;
      broker.pause();
      await sleep(8_000);
      broker.resume();
    },
  },
  {
    name: "restart of every broker in turn",
    async inject(world) {
      for (const broker of world.stack.brokers) {
        await broker.stop();
        await broker.start();
      }
    },
  },
  {
    name: "300 ms latency between the gateways and Redis for 8 s",
    async inject(world) {
      world.redisProxy.latencyMs = 300;
      await sleep(8_000);
      world.redisProxy.latencyMs = 0;
    },
  },
  {
    name: "connection resets between the gateways and Redis (cut 2 s)",
    async inject(world) {
      world.redisProxy.cut();
      await sleep(2_000);
      world.redisProxy.restore();
    },
  },
  {
    name: "300 ms latency between the gateways and Kafka for 8 s",
    async inject(world) {
      for (const p of world.kafkaProxies) p.latencyMs = 300;
      await sleep(8_000);
      for (const p of world.kafkaProxies) p.latencyMs = 0;
    },
  },
  {
    name: "connection resets between the gateways and Kafka (cut 2 s)",
    async inject(world) {
      for (const p of world.kafkaProxies) p.cut();
      await sleep(2_000);
      for (const p of world.kafkaProxies) p.restore();
    },
  },
];

/** The short form in `npm test`: a broker, a gateway and a processor lost mid-stream. */
export const SHORT_FAULTS = FAULTS.filter((f) => /leader broker|of a gateway|of a processor/.test(f.name));
